// Command report reads `go test -bench` output (several runs of the same
// benchmarks, from -count) on standard input and prints Markdown tables of
// the medians and of the ratios the performance targets are stated in:
// this library against alexedwards/scs and gorilla/sessions, and against the
// floors measured in the same run. bench/run.sh drives it.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// result holds every measurement of one benchmark, by unit.
type result struct {
	name    string
	metrics map[string][]float64 // unit -> one value per run
}

func (r *result) median(unit string) (float64, bool) {
	v := slices.Clone(r.metrics[unit])
	if len(v) == 0 {
		return 0, false
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2], true
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2, true
}

// parse reads benchmark lines: name-P  N  value unit  value unit ...
func parse(in io.Reader) (map[string]*result, []string, error) {
	res := map[string]*result{}
	var order []string
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i] // drop the -GOMAXPROCS suffix
			}
		}
		r := res[name]
		if r == nil {
			r = &result{name: name, metrics: map[string][]float64{}}
			res[name] = r
			order = append(order, name)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			r.metrics[f[i+1]] = append(r.metrics[f[i+1]], v)
		}
	}
	return res, order, sc.Err()
}

type table struct {
	res map[string]*result
	out io.Writer
}

func (t table) get(name, unit string) (float64, bool) {
	r := t.res[name]
	if r == nil {
		return 0, false
	}
	return r.median(unit)
}

func fmtNs(v float64, ok bool) string {
	switch {
	case !ok:
		return "–"
	case v >= 1e6:
		return fmt.Sprintf("%.2f ms", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1f µs", v/1e3)
	case v >= 1e3:
		return fmt.Sprintf("%.2f µs", v/1e3)
	}
	return fmt.Sprintf("%.0f ns", v)
}

func fmtNum(v float64, ok bool) string {
	if !ok {
		return "–"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func ratio(a, b float64, okA, okB bool) string {
	if !okA || !okB || b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// cell formats one library's medians: time, B/op, allocs/op.
func (t table) cell(name string) string {
	ns, ok := t.get(name, "ns/op")
	if !ok {
		return "–"
	}
	b, _ := t.get(name, "B/op")
	a, _ := t.get(name, "allocs/op")
	return fmt.Sprintf("%s · %.0f B · %.0f allocs", fmtNs(ns, true), b, a)
}

// compare prints one backend's scenarios: each library, ours/peer and
// ours/floor, with the floor chosen per scenario.
func (t table) compare(title, prefix string, peers []string, floors map[string]string) {
	if _, ok := t.get(prefix+"/ReadOnly/ours", "ns/op"); !ok {
		if _, ok := t.get(prefix+"/ReadOnly/scs", "ns/op"); !ok {
			return
		}
	}
	fmt.Fprintf(t.out, "\n### %s\n\n", title)
	head := "| scenario | ours |"
	sep := "|---|---|"
	for _, p := range peers {
		head += " " + p + " |"
		sep += "---|"
	}
	for _, p := range peers {
		head += " ours/" + p + " |"
		sep += "---|"
	}
	head += " floor | ours/floor | ours − floor |"
	sep += "---|---|---|"
	fmt.Fprintln(t.out, head)
	fmt.Fprintln(t.out, sep)
	for _, sc := range []string{"ReadOnly", "Write", "Login"} {
		ours := prefix + "/" + sc + "/ours"
		row := "| " + sc + " | " + t.cell(ours) + " |"
		on, ook := t.get(ours, "ns/op")
		for _, p := range peers {
			row += " " + t.cell(prefix+"/"+sc+"/"+p) + " |"
		}
		for _, p := range peers {
			pn, pok := t.get(prefix+"/"+sc+"/"+p, "ns/op")
			row += " " + ratio(on, pn, ook, pok) + " |"
		}
		fl := floors[sc]
		fn, fok := t.get(fl, "ns/op")
		fa, _ := t.get(fl, "allocs/op")
		oa, _ := t.get(ours, "allocs/op")
		diff := "–"
		if ook && fok {
			diff = fmt.Sprintf("%s, %+.0f allocs", fmtNs(on-fn, true), oa-fa)
		}
		row += fmt.Sprintf(" %s (%s) | %s | %s |", fl, fmtNs(fn, fok), ratio(on, fn, ook, fok), diff)
		fmt.Fprintln(t.out, row)
	}
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func goVersion() string {
	out, err := exec.Command("go", "version").Output()
	if err != nil {
		return runtime.Version()
	}
	return strings.TrimSpace(string(out))
}

func main() {
	command := flag.String("command", "", "the command that produced the input, for the header")
	flag.Parse()
	res, order, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
	if len(res) == 0 {
		fmt.Fprintln(os.Stderr, "report: no benchmark lines on standard input")
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	t := table{res: res, out: w}
	runs := 0
	for _, r := range res {
		runs = max(runs, len(r.metrics["ns/op"]))
	}

	fmt.Fprintln(w, "# Benchmark results")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Medians of %d runs (`-count %d`), all from one invocation, so ratios compare like with like.\n\n", runs, runs)
	fmt.Fprintf(w, "- machine: %d CPUs (`nproc`), %s, GOMAXPROCS %d\n", runtime.NumCPU(), cpuModel(), runtime.GOMAXPROCS(0))
	fmt.Fprintf(w, "- %s\n", goVersion())
	if *command != "" {
		fmt.Fprintf(w, "- command: `%s`\n", *command)
	}
	fmt.Fprintln(w, "- cells: time per request · bytes allocated · allocations; each request is one `ServeHTTP` on an `httptest` recorder (no sockets), Redis on loopback.")

	t.compare("Memory (ours: MemoryStore; scs: memstore; gorilla: CookieStore)", "Memory", []string{"scs", "gorilla"},
		map[string]string{"ReadOnly": "Memory/Floor/handler", "Write": "Memory/Floor/handler", "Login": "Memory/Floor/handler"})
	t.compare("Cookie (ours: CookieStore, AES-256-GCM; gorilla: CookieStore, securecookie)", "Cookie", []string{"gorilla"},
		map[string]string{"ReadOnly": "Cookie/Floor/handler", "Write": "Cookie/Floor/handler", "Login": "Cookie/Floor/handler"})
	t.compare("Redis (ours: RedisStore; scs: goredisstore, go-redis v9)", "Redis", []string{"scs"},
		map[string]string{"ReadOnly": "Redis/Floor/GET", "Write": "Redis/Floor/GETSET", "Login": "Redis/Floor/GETSET"})

	// Root-package benchmarks, when present.
	if _, ok := t.get("ReadOnly", "ns/op"); ok {
		fmt.Fprintln(w, "\n### Root package (go test -bench . in the library)")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| benchmark | time | B/op | allocs/op | over Floor |")
		fmt.Fprintln(w, "|---|---|---|---|---|")
		fn, fok := t.get("Floor", "ns/op")
		fa, _ := t.get("Floor", "allocs/op")
		for _, n := range []string{"Floor", "ReadOnly", "Write", "Login"} {
			ns, ok := t.get(n, "ns/op")
			b, _ := t.get(n, "B/op")
			a, _ := t.get(n, "allocs/op")
			over := "–"
			if ok && fok && n != "Floor" {
				over = fmt.Sprintf("%s, %+.0f allocs", fmtNs(ns-fn, true), a-fa)
			}
			fmt.Fprintf(w, "| %s | %s | %.0f | %.0f | %s |\n", n, fmtNs(ns, ok), b, a, over)
		}
		if o, ok := t.get("ReadOnlyOverFloor", "over-floor-ns"); ok {
			fl, _ := t.get("ReadOnlyOverFloor", "floor-ns")
			ro, _ := t.get("ReadOnlyOverFloor", "readonly-ns")
			fmt.Fprintf(w, "\nInterleaved (Floor and ReadOnly measured in alternation): floor %s, read-only %s, the session adds %s.\n",
				fmtNs(fl, true), fmtNs(ro, true), fmtNs(o, true))
		}
	}
	small, big := "MemoryStoreScale/sessions=1000", "MemoryStoreScale/sessions=1000000"
	if _, ok := t.get(small+"/Load", "ns/op"); ok {
		fmt.Fprintln(w, "\n### Memory store at scale")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| operation | 1k sessions | 1M sessions | 1M/1k |")
		fmt.Fprintln(w, "|---|---|---|---|")
		for _, op := range []string{"Load", "Update"} {
			a, aok := t.get(small+"/"+op, "ns/op")
			b, bok := t.get(big+"/"+op, "ns/op")
			fmt.Fprintf(w, "| %s | %s | %s | %s |\n", op, fmtNs(a, aok), fmtNs(b, bok), ratio(b, a, bok, aok))
		}
		for _, op := range []string{"Load", "Update"} {
			n := "MemoryStoreScaleInterleaved/" + op
			a, aok := t.get(n, "1k-ns")
			b, bok := t.get(n, "1M-ns")
			r, rok := t.get(n, "1M/1k")
			if aok && bok && rok {
				fmt.Fprintf(w, "| %s, interleaved (1k and 1M measured in alternation) | %s | %s | %.2f× |\n", op, fmtNs(a, true), fmtNs(b, true), r)
			}
		}
		a, aok := t.get(small+"/Memory", "B/session")
		b, bok := t.get(big+"/Memory", "B/session")
		fmt.Fprintf(w, "| heap bytes per session (user ID + 2 small values) | %s | %s | |\n", fmtNum(a, aok), fmtNum(b, bok))
	}
	if _, ok := t.get("MemoryStoreMassExpiry", "p99-steady-ns"); ok {
		fmt.Fprintln(w, "\n### Load latency while 1M sessions expire at once")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| phase | p50 | p99 |")
		fmt.Fprintln(w, "|---|---|---|")
		for _, ph := range []string{"steady", "expiry"} {
			p50, ok50 := t.get("MemoryStoreMassExpiry", "p50-"+ph+"-ns")
			p99, ok99 := t.get("MemoryStoreMassExpiry", "p99-"+ph+"-ns")
			fmt.Fprintf(w, "| %s | %s | %s |\n", ph, fmtNs(p50, ok50), fmtNs(p99, ok99))
		}
		r, ok := t.get("MemoryStoreMassExpiry", "p99-ratio")
		s, sok := t.get("MemoryStoreMassExpiry", "sweep-s")
		fmt.Fprintf(w, "\np99 during expiry / p99 steady (median of per-run ratios): %s; the sweep of 1M records took %s s.\n",
			strconv.FormatFloat(r, 'f', 2, 64)+map[bool]string{true: "", false: " (missing)"}[ok], fmtNum(s, sok))
	}

	fmt.Fprintln(w, "\n### All medians")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| benchmark | ns/op | B/op | allocs/op | other |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, n := range order {
		r := res[n]
		ns, ok := r.median("ns/op")
		b, _ := r.median("B/op")
		a, _ := r.median("allocs/op")
		var other []string
		units := make([]string, 0, len(r.metrics))
		for u := range r.metrics {
			if u != "ns/op" && u != "B/op" && u != "allocs/op" {
				units = append(units, u)
			}
		}
		slices.Sort(units)
		for _, u := range units {
			v, _ := r.median(u)
			other = append(other, fmt.Sprintf("%s %s", strconv.FormatFloat(v, 'g', 4, 64), u))
		}
		fmt.Fprintf(w, "| %s | %s | %.0f | %.0f | %s |\n", n, fmtNum(ns, ok), b, a, strings.Join(other, ", "))
	}
}
