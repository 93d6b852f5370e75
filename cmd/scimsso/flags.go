package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"
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
//
// -h, -help or --help prints the command's help on stdout and returns errHelpShown. An unknown flag's
// error names the flag and, when it looks like a common mistake or a typo, the flag meant.
func (m *Main) parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	if wantsHelp(args) {
		// Help wins over everything else on the line, a flag this command lacks included.
		m.printHelp(fs)
		return nil, errHelpShown
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				m.printHelp(fs)
				return nil, errHelpShown
			}
			return nil, flagError(fs, err)
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

// printHelp writes a command's usage line, what it does and every flag with its default to stdout.
func (m *Main) printHelp(fs *flag.FlagSet) {
	c := command{name: fs.Name(), synopsis: "[flags]"}
	for _, x := range m.commands() {
		if x.name == fs.Name() {
			c = x
		}
	}
	out := m.Stdout
	fmt.Fprint(out, wrapUsage("usage: scimsso "+c.name, c.synopsis, "    "))
	if c.summary != "" {
		fmt.Fprintf(out, "\n%s\n", c.summary)
	}
	if c.more != nil {
		fmt.Fprintf(out, "\n%s", c.more())
	}
	fmt.Fprintf(out, "\nflags:\n")
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		kind, usage := flag.UnquoteUsage(f)
		if _, ok := f.Value.(*multiFlag); ok {
			kind, usage = "string", usage+" (repeatable)"
		}
		if kind != "" {
			kind = " " + kind
		}
		if d := f.DefValue; d != "" && d != "false" && d != "0" && d != "0s" {
			if _, err := time.ParseDuration(d); err == nil {
				d = shortDuration(d)
			}
			usage += " (default " + d + ")"
		}
		fmt.Fprintf(tw, "  --%s%s\t%s\n", f.Name, kind, usage)
	})
	tw.Flush()
	fmt.Fprintf(out, "\nEvery flag can also be set as SCIMSSO_<FLAG>, upper case with _ for - (SCIMSSO_DB for --db);\na flag on the command line wins.\n")
}

// flagHints are flags people reach for from other servers' command lines, and the flag scimsso has.
var flagHints = map[string]string{
	"port": "addr", "listen": "addr", "host": "addr", "bind": "addr", "address": "addr", "http": "addr",
	"database": "db", "dsn": "db", "database-url": "db", "db-url": "db", "sqlite": "db", "postgres": "db",
	"url": "base-url", "base": "base-url", "baseurl": "base-url", "public-url": "base-url", "external-url": "base-url",
	"slug": "tenant", "tenant-slug": "tenant", "metadata": "metadata-url", "idp-metadata": "metadata-url",
	"domains": "domain", "label": "name", "expiry": "expires", "ttl": "expires", "verbose": "log-level", "debug": "log-level",
}

var (
	undefinedFlagRE = regexp.MustCompile(`^flag provided but not defined: -+(.+)$`)
	dashFlagRE      = regexp.MustCompile(`(flag|argument:) -([A-Za-z0-9][-A-Za-z0-9]*)`)
)

// flagError rewrites the flag package's error for people: flags with two dashes, and for an unknown
// flag the one meant, else a pointer to --help.
func flagError(fs *flag.FlagSet, err error) error {
	msg := err.Error()
	m := undefinedFlagRE.FindStringSubmatch(msg)
	if m == nil {
		return fmt.Errorf("%s: %s", fs.Name(), dashFlagRE.ReplaceAllString(msg, "$1 --$2"))
	}
	name := m[1]
	if want, ok := flagHints[strings.ToLower(name)]; ok && fs.Lookup(want) != nil {
		hint := ""
		if want == "addr" {
			hint = " HOST:PORT, for example --addr :9090"
		}
		return fmt.Errorf("%s: unknown flag --%s: use --%s%s", fs.Name(), name, want, hint)
	}
	best, bestDist := "", 3
	fs.VisitAll(func(f *flag.Flag) {
		if d := editDistance(strings.ToLower(name), f.Name); d < bestDist {
			best, bestDist = f.Name, d
		}
	})
	if best != "" {
		return fmt.Errorf("%s: unknown flag --%s: did you mean --%s?", fs.Name(), name, best)
	}
	return fmt.Errorf("%s: unknown flag --%s ('scimsso %s --help' lists its flags)", fs.Name(), name, fs.Name())
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// parseDuration accepts Go durations plus a day suffix ("90d", "14d", "1d12h").
func sortStrings(s []string) []string {
	sort.Strings(s)
	return s
}
