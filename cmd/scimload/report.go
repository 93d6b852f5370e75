package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// result is one phase row. Its JSON names match the metric names the peer
// baselines use (ok_per_s, p50_ms, server_cpu_ms_op, …).
type result struct {
	Kind          string   `json:"kind"` // "phase"
	Phase         string   `json:"phase"`
	Requests      int      `json:"requests"`
	OK            int      `json:"ok"`
	NotOK         int      `json:"not_ok"`
	Seconds       float64  `json:"seconds"`
	OKPerS        float64  `json:"ok_per_s"`
	P50           float64  `json:"p50_ms"`
	P90           float64  `json:"p90_ms"`
	P99           float64  `json:"p99_ms"`
	Max           float64  `json:"max_ms"`
	ServerCPUMsOp *float64 `json:"server_cpu_ms_op,omitempty"`
	ServerRSSMB   *float64 `json:"server_rss_mb,omitempty"`
	// Items and ItemsPerS are what the ok requests carried, for the phases whose requests carry many
	// (events: the events read), over the phase's wall time.
	Items     int      `json:"items,omitempty"`
	ItemsPerS float64  `json:"items_per_s,omitempty"`
	Errors    []sample `json:"errors,omitempty"`
}

// summarize makes a phase row from a merged tally whose latencies are
// sorted.
func summarize(phase string, t *tally, elapsed time.Duration, fails []sample) result {
	r := result{
		Kind:     "phase",
		Phase:    phase,
		Requests: t.ok + t.notOK,
		OK:       t.ok,
		NotOK:    t.notOK,
		Seconds:  round3(elapsed.Seconds()),
		P50:      ms(percentile(t.lat, 50)),
		P90:      ms(percentile(t.lat, 90)),
		P99:      ms(percentile(t.lat, 99)),
		Max:      ms(percentile(t.lat, 100)),
		Errors:   fails,
	}
	if elapsed > 0 {
		r.OKPerS = math.Round(float64(t.ok)/elapsed.Seconds()*10) / 10
		r.Items = t.items
		r.ItemsPerS = math.Round(float64(t.items)/elapsed.Seconds()*10) / 10
	}
	return r
}

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted: the smallest value with at least p% of the values at or below it.
// It returns 0 for an empty slice.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	// p*n is exact for whole p, so 99% of 100 values is rank 99, not 100.
	rank := int(math.Ceil(p * float64(n) / 100))
	return sorted[min(max(rank, 1), n)-1]
}

func ms(d time.Duration) float64 { return round3(float64(d) / float64(time.Millisecond)) }

func mb(kb int64) float64 { return math.Round(float64(kb)/1024*10) / 10 }

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// reporter writes a run's results as a table or as JSON lines.
type reporter struct {
	cfg config
	w   io.Writer
	enc *json.Encoder // nil: table
}

func newReporter(cfg config, w io.Writer) *reporter {
	r := &reporter{cfg: cfg, w: w}
	if cfg.json {
		r.enc = json.NewEncoder(w)
	}
	return r
}

// start writes what the run does (never the token) and, for a table, the
// header.
func (r *reporter) start() error {
	c := r.cfg
	if r.enc != nil {
		return r.enc.Encode(struct {
			Kind     string `json:"kind"`
			Base     string `json:"base"`
			Prefix   string `json:"prefix"`
			Domain   string `json:"domain"`
			Phases   string `json:"phases"`
			C        int    `json:"c"`
			N        int    `json:"n"`
			K        int    `json:"k"`
			M        int    `json:"m"`
			SeedOnly bool   `json:"seed_only"`
			PIDs     []int  `json:"pids,omitempty"`
		}{"run", strings.Join(c.bases, ","), c.prefix, c.domain, c.phases.String(), c.c, c.n, c.k, c.m, c.seedOnly, c.pids})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "scimload base=%s prefix=%s domain=%s phases=%s c=%d n=%d k=%d m=%d", strings.Join(c.bases, ","), c.prefix, c.domain, c.phases, c.c, c.n, c.k, c.m)
	if c.seedOnly {
		b.WriteString(" seed-only")
	}
	for _, pid := range c.pids {
		fmt.Fprintf(&b, " pid=%d", pid)
	}
	fmt.Fprintf(&b, "\n%-7s %8s %8s %7s %9s %8s %8s %8s %8s", "phase", "requests", "ok", "not_ok", "ok/s", "p50_ms", "p90_ms", "p99_ms", "max_ms")
	if len(c.pids) > 0 {
		fmt.Fprintf(&b, " %9s %7s", "cpu_ms/op", "rss_MB")
	}
	b.WriteString("\n")
	_, err := io.WriteString(r.w, b.String())
	return err
}

// phase writes one row and its failure samples.
func (r *reporter) phase(res result) error {
	if r.enc != nil {
		return r.enc.Encode(res)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-7s %8d %8d %7d %9.1f %8.3f %8.3f %8.3f %8.3f", res.Phase, res.Requests, res.OK, res.NotOK, res.OKPerS, res.P50, res.P90, res.P99, res.Max)
	if len(r.cfg.pids) > 0 {
		fmt.Fprintf(&b, " %9s %7s", optional(res.ServerCPUMsOp, 3), optional(res.ServerRSSMB, 1))
	}
	b.WriteString("\n")
	if res.Items > 0 {
		fmt.Fprintf(&b, "  %s: %d read, %.1f/s\n", res.Phase, res.Items, res.ItemsPerS)
	}
	for _, s := range res.Errors {
		code := "no response"
		if s.Status != 0 {
			code = strconv.Itoa(s.Status)
		}
		fmt.Fprintf(&b, "  not ok %s: %s\n", code, s.Body)
	}
	_, err := io.WriteString(r.w, b.String())
	return err
}

func optional(x *float64, prec int) string {
	if x == nil {
		return "-"
	}
	return strconv.FormatFloat(*x, 'f', prec, 64)
}

// server writes the server's memory at the end of the run.
func (r *reporter) server(s procSample) error {
	if r.enc != nil {
		return r.enc.Encode(struct {
			Kind      string  `json:"kind"`
			RSSMB     float64 `json:"rss_mb"`
			PeakRSSMB float64 `json:"peak_rss_mb"`
			CPUSec    float64 `json:"cpu_s"`
		}{"server", mb(s.rssKB), mb(s.peakKB), round3(s.cpu.Seconds())})
	}
	_, err := fmt.Fprintf(r.w, "server rss %.1f MB, peak %.1f MB, cpu %.3f s since start\n", mb(s.rssKB), mb(s.peakKB), s.cpu.Seconds())
	return err
}

// procSample is a process's CPU time and memory, from /proc.
type procSample struct {
	cpu           time.Duration // user + system since the process started
	rssKB, peakKB int64         // VmRSS, VmHWM
}

// clockTick is USER_HZ, the unit of /proc/PID/stat times (100 on Linux).
const clockTick = 10 * time.Millisecond

// readProc reads /proc/PID/stat and /proc/PID/status.
func readProc(pid int) (procSample, error) {
	dir := "/proc/" + strconv.Itoa(pid)
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return procSample{}, fmt.Errorf("server pid %d: %w", pid, err)
	}
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return procSample{}, fmt.Errorf("server pid %d: %w", pid, err)
	}
	var s procSample
	if s.cpu, err = parseStatCPU(string(stat)); err != nil {
		return procSample{}, fmt.Errorf("server pid %d: %w", pid, err)
	}
	if s.rssKB, err = statusKB(string(status), "VmRSS"); err != nil {
		return procSample{}, fmt.Errorf("server pid %d: %w", pid, err)
	}
	if s.peakKB, err = statusKB(string(status), "VmHWM"); err != nil {
		return procSample{}, fmt.Errorf("server pid %d: %w", pid, err)
	}
	return s, nil
}

// parseStatCPU returns utime+stime from the text of /proc/PID/stat. The
// command name (field 2) may hold spaces and parentheses, so fields are
// counted from the last ')'.
func parseStatCPU(stat string) (time.Duration, error) {
	end := strings.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, errors.New("stat: no command name")
	}
	f := strings.Fields(stat[end+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, errors.New("stat: too few fields")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("stat: %w", err)
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// statusKB returns the "KEY: N kB" value from the text of /proc/PID/status.
func statusKB(status, key string) (int64, error) {
	for line := range strings.Lines(status) {
		rest, ok := strings.CutPrefix(line, key+":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			break
		}
		return strconv.ParseInt(f[0], 10, 64)
	}
	return 0, fmt.Errorf("status: no %s", key)
}
