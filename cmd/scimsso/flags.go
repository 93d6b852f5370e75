package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// multiFlag is a repeatable string flag (--domain a --domain b).
type multiFlag []string

func (f *multiFlag) String() string { return strings.Join(*f, ",") }

// Set implements flag.Value.
func (f *multiFlag) Set(v string) error {
	*f = append(*f, v)
	return nil
}

// parseFlags parses args with flags and positional arguments in any order, then fills every flag not
// given on the command line from SCIMSSO_<FLAG> (dashes become underscores; a repeatable flag takes a
// comma-separated list). It returns the positional arguments.
func (m *Main) parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, fmt.Errorf("%s: see 'scimsso help'", fs.Name())
			}
			return nil, fmt.Errorf("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			pos = append(pos, args[1:]...)
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		env := "SCIMSSO_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		v := m.Getenv(env)
		if v == "" {
			return
		}
		vals := []string{v}
		if _, ok := f.Value.(*multiFlag); ok {
			vals = strings.Split(v, ",")
		}
		for _, x := range vals {
			if e := f.Value.Set(strings.TrimSpace(x)); e != nil {
				err = fmt.Errorf("%s: invalid value %q for %s: %v", fs.Name(), v, env, e)
			}
		}
	})
	return pos, err
}

// parseDuration accepts Go durations plus a day suffix ("90d", "14d", "1d12h").
func parseDuration(s string) (time.Duration, error) {
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		days = time.Duration(n) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (use for example 90d, 12h or 30m)", s)
	}
	return days + d, nil
}

func sortStrings(s []string) []string {
	sort.Strings(s)
	return s
}
