package edgefit_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/internal/testfix"
)

// This test pins the import rules that the package docs state, so that a
// wrong import fails CI instead of slowly undoing the layout. The rules
// follow the data flow: supernet and devices build on nothing of ours,
// export on supernet, the profiler on devices, export and supernet; the
// predictor and the search read the LUT format, never the measuring
// engine, and link no cgo; only export and the agent run models through
// export/ort; only cmd holds the command line.

const module = "github.com/edgefit/edgefit"

// rule governs the packages that match pkgs (see match); the first rule
// that matches a package governs it.
type rule struct {
	pkgs string
	// allow lists the edgefit packages they may import directly.
	allow []string
	// links, when set, lists every edgefit package they may link,
	// directly or not.
	links []string
	// importers, when set, lists the only packages that may import them;
	// importersSay is that rule in words, also in the doc.
	importers    []string
	importersSay string
	// noCgo: nothing they link, edgefit's or a dependency's, uses cgo.
	noCgo bool
	// says is the rule in words; the doc comment of package doc (or of
	// each governed package, for "*") says it too, word for word.
	says string
	doc  string
}

var rules = []rule{
	{pkgs: ".", allow: []string{"devices/...", "export/...", "predictor", "profiler/...", "supernet/...", "internal/..."}, doc: ".",
		says: "imports devices, export, predictor, profiler and supernet (and their subpackages) and internal helpers, never cmd"},
	{pkgs: "cmd/edgefit", allow: []string{"cmd"}, doc: "cmd/edgefit",
		says: "imports only package cmd"},
	{pkgs: "cmd/edgefit-agent", allow: []string{"profiler/bench"}, doc: "cmd/edgefit-agent",
		links: []string{"profiler/bench", "profiler/bench/wire", "profiler/timing", "export/ort", "internal/..."},
		says:  "links only profiler/bench, its protocol (profiler/bench/wire, profiler/timing), export/ort and internal helpers"},
	{pkgs: "cmd", allow: []string{".", "devices/...", "export", "export/accuracy", "predictor", "profiler/...", "supernet/...", "internal/..."}, doc: "cmd",
		says: "Only cmd and its commands import cmd and the command-line libraries (cobra, pflag, progressbar, tablewriter, x/term); cmd does not import export/ort"},
	{pkgs: "devices/...", allow: []string{"devices/...", "internal/..."}, noCgo: true, doc: "devices",
		says: "imports no other edgefit package except its own subpackages and leaf helpers under internal/, and uses no cgo"},
	{pkgs: "export/ort", allow: []string{"internal/..."}, doc: "export/ort",
		says:      "imports nothing else of edgefit but internal/ortlib",
		importers: []string{"export", "export/...", "profiler/bench"}, importersSay: "only the agent (profiler/bench) and export and its subpackages, where they run models, import it"},
	{pkgs: "export/...", allow: []string{"supernet", "export/...", "internal/..."}, doc: "export",
		says: "imports supernet, its own subpackages and leaf helpers under internal/ only"},
	{pkgs: "internal/testfix/ofafixture", allow: []string{"supernet", "internal/..."}, noCgo: true, doc: "internal/testfix/ofafixture",
		says:      "imports supernet and internal helpers only, and no cgo",
		importers: []string{"(tests)"}, importersSay: "only tests import it"},
	{pkgs: "internal/...", allow: []string{"internal/..."}, noCgo: true, doc: "*",
		says: "imports nothing else of edgefit and uses no cgo"},
	{pkgs: "predictor", allow: []string{"profiler/lut", "profiler/timing", "supernet", "internal/..."}, noCgo: true, doc: "predictor",
		says: "imports profiler/lut, profiler/timing, supernet and internal helpers only: the LUT format, not the measuring engine, and no cgo"},
	{pkgs: "profiler/lut", allow: []string{"supernet", "profiler/timing", "internal/..."}, noCgo: true, doc: "profiler/lut",
		says: "imports supernet, profiler/timing and internal helpers only"},
	{pkgs: "profiler/timing", noCgo: true, doc: "profiler/timing",
		says: "imports nothing else of edgefit and has no cgo"},
	{pkgs: "profiler/bench/wire", allow: []string{"profiler/timing"}, noCgo: true, doc: "profiler/bench/wire",
		says: "imports only profiler/timing of edgefit and has no cgo"},
	{pkgs: "profiler/runners", allow: []string{"profiler/bench/wire", "profiler/timing"}, noCgo: true, doc: "profiler/runners",
		says: "imports only profiler/bench/wire and profiler/timing of edgefit, and no cgo"},
	{pkgs: "profiler/bench", allow: []string{"profiler/bench/wire", "profiler/timing", "export/ort", "internal/..."}, doc: "profiler/bench",
		says: "imports only its protocol (profiler/bench/wire, profiler/timing), export/ort and internal helpers"},
	{pkgs: "profiler/agent/agenttest", allow: []string{"internal/..."}, doc: "profiler/agent/agenttest",
		says: "imports nothing of edgefit but internal helpers"},
	{pkgs: "profiler/agent", allow: []string{"devices", "profiler/bench/wire", "profiler/timing", "internal/..."}, noCgo: true, doc: "profiler/agent",
		says: "imports devices, the agent's protocol (profiler/bench/wire, profiler/timing) and internal helpers only, and no cgo"},
	{pkgs: "profiler", allow: []string{"devices", "export", "supernet", "profiler/...", "internal/..."}, doc: "profiler",
		says: "imports devices, export, supernet, its own subpackages and internal helpers only"},
	{pkgs: "supernet/search", allow: []string{"predictor", "supernet", "profiler/lut", "profiler/timing", "internal/..."}, noCgo: true, doc: "supernet/search",
		says: "imports predictor, supernet, the LUT format (profiler/lut, profiler/timing) and internal helpers only, and no cgo"},
	{pkgs: "supernet/zoo", allow: []string{"supernet", "profiler/lut", "profiler/timing", "internal/..."}, noCgo: true, doc: "supernet/zoo",
		says: "imports supernet, the LUT format (profiler/lut, profiler/timing) and internal helpers only, and no cgo"},
	{pkgs: "scripts/...", allow: []string{"internal/..."}, noCgo: true, doc: "*",
		says: "imports nothing of edgefit but internal helpers, and no cgo"},
	{pkgs: "supernet", allow: []string{"internal/..."}, noCgo: true, doc: "supernet",
		says: "imports no other edgefit package except leaf helpers under internal/, and no cgo"},
}

// cliModules are the command-line libraries only cmd may import.
var cliModules = []string{"github.com/spf13/cobra", "github.com/spf13/pflag", "github.com/schollz/progressbar",
	"github.com/olekukonko/tablewriter", "golang.org/x/term"}

// match reports whether the module-relative package p matches pattern:
// "x" is x itself, "x/..." is x and everything below it.
func match(pattern, p string) bool {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return p == base || strings.HasPrefix(p, base+"/")
	}
	return p == pattern
}

func matchAny(patterns []string, p string) bool {
	return slices.ContainsFunc(patterns, func(pat string) bool { return match(pat, p) })
}

// pkg is what `go list -json` says of a package.
type pkg struct {
	ImportPath   string
	Dir          string
	Standard     bool
	GoFiles      []string
	CgoFiles     []string
	Imports      []string
	TestImports  []string
	XTestImports []string
	Error        *struct{ Err string }
}

// rel returns p relative to the module ("predictor"), or "" for a
// package outside it.
func rel(p string) string {
	if p == module {
		return "."
	}
	r, ok := strings.CutPrefix(p, module+"/")
	if !ok {
		return ""
	}
	return r
}

// listPackages runs `go list -deps -json ./...` in the module root: every
// package of the module and everything they link, by import path.
func listPackages(t *testing.T) (map[string]*pkg, []string) {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		_, err = os.Stat(goTool)
	}
	testfix.Need(t, testfix.GoTool, err)
	cmd := exec.Command(goTool, "list", "-e", "-deps", "-json=ImportPath,Dir,Standard,GoFiles,CgoFiles,Imports,TestImports,XTestImports,Error", "./...")
	cmd.Dir = testfix.RepoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1") // count the cgo files that a default build links
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	all := map[string]*pkg{}
	var ours []string
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		if p.Error != nil {
			t.Fatalf("go list %s: %s", p.ImportPath, p.Error.Err)
		}
		all[p.ImportPath] = &p
		if rel(p.ImportPath) != "" && len(p.GoFiles)+len(p.CgoFiles) > 0 {
			ours = append(ours, p.ImportPath)
		}
	}
	slices.Sort(ours)
	return all, ours
}

// cgoPath returns a chain of imports from p to a package that uses cgo,
// or nil when p links none. The standard library is left out: it uses cgo
// only where the platform asks for it (net, os/user).
func cgoPath(all map[string]*pkg, p string) []string {
	prev := map[string]string{p: ""}
	queue := []string{p}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		q := all[cur]
		if q == nil || q.Standard {
			continue
		}
		if len(q.CgoFiles) > 0 {
			var chain []string
			for c := cur; c != ""; c = prev[c] {
				chain = append(chain, c)
			}
			slices.Reverse(chain)
			return chain
		}
		for _, imp := range q.Imports {
			if _, seen := prev[imp]; !seen {
				prev[imp] = cur
				queue = append(queue, imp)
			}
		}
	}
	return nil
}

// linked returns the edgefit packages p links, directly or not.
func linked(all map[string]*pkg, p string) []string {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(cur string) {
		for _, imp := range all[cur].Imports {
			if rel(imp) != "" && !seen[imp] {
				seen[imp] = true
				walk(imp)
			}
		}
	}
	walk(p)
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, rel(p))
	}
	slices.Sort(out)
	return out
}

// packageDoc returns the doc comment of the package in dir, with its
// whitespace collapsed.
func packageDoc(t *testing.T, dir string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var docs []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		if af.Doc != nil {
			docs = append(docs, af.Doc.Text())
		}
	}
	return strings.Join(strings.Fields(strings.Join(docs, " ")), " ")
}

func governing(p string) *rule {
	for i := range rules {
		if match(rules[i].pkgs, p) {
			return &rules[i]
		}
	}
	return nil
}

func TestImportRules(t *testing.T) {
	all, ours := listPackages(t)
	t.Run("Packages", func(t *testing.T) { checkRules(t, all, ours) })
	t.Run("CommandLineStaysInCmd", func(t *testing.T) { checkCommandLine(t, all, ours) })
}

// checkRules checks every package against the rule that governs it.
func checkRules(t *testing.T, all map[string]*pkg, ours []string) {
	broken := func(p string, r *rule, format string, args ...any) {
		t.Helper()
		t.Errorf("%s %s: this breaks the import rule for %s, which %s says: %q", p, fmt.Sprintf(format, args...), r.pkgs, docFile(r, p), r.says)
	}
	importers := map[string][]string{}
	for _, full := range ours {
		p := rel(full)
		if p == "." {
			continue
		}
		r := governing(p)
		if r == nil {
			t.Errorf("package %s has no import rule: add one to imports_test.go and state it in its doc comment", p)
			continue
		}
		for _, imp := range all[full].Imports {
			ri := rel(imp)
			if ri == "" {
				continue
			}
			importers[ri] = append(importers[ri], p)
			if !matchAny(r.allow, ri) {
				broken(p, r, "imports %s", ri)
			}
		}
		if r.links != nil {
			for _, l := range linked(all, full) {
				if !matchAny(r.links, l) {
					broken(p, r, "links %s", l)
				}
			}
		}
		if r.noCgo {
			if chain := cgoPath(all, full); chain != nil {
				broken(p, r, "links cgo code in %s (through %s)", chain[len(chain)-1], strings.Join(chain, " -> "))
			}
		}
		if r.doc == "*" || r.doc == p {
			doc := packageDoc(t, all[full].Dir)
			for _, says := range []string{r.says, r.importersSay} {
				if !strings.Contains(doc, says) {
					t.Errorf("the doc comment of package %s does not state its import rule %q", p, says)
				}
			}
		}
	}
	for i := range rules {
		r := &rules[i]
		if r.importers == nil {
			continue
		}
		for _, by := range importers[r.pkgs] {
			if !matchAny(r.importers, by) {
				t.Errorf("%s imports %s: this breaks the import rule for %s, which %s says: %q", by, r.pkgs, r.pkgs, docFile(r, r.pkgs), r.importersSay)
			}
		}
	}
}

// checkCommandLine: nothing outside cmd, tests included, imports cmd or
// the libraries of the command line.
func checkCommandLine(t *testing.T, all map[string]*pkg, ours []string) {
	r := governing("cmd")
	for _, full := range ours {
		p := rel(full)
		if match("cmd/...", p) {
			continue
		}
		q := all[full]
		for _, imp := range slices.Concat(q.Imports, q.TestImports, q.XTestImports) {
			if match("cmd/...", rel(imp)) || slices.ContainsFunc(cliModules, func(m string) bool { return imp == m || strings.HasPrefix(imp, m+"/") }) {
				t.Errorf("%s imports %s: this breaks the rule that cmd/doc.go states: %q", p, imp, r.says)
			}
		}
	}
}

func docFile(r *rule, p string) string {
	if r.doc == "*" {
		return p + "'s doc comment"
	}
	return r.doc + "'s doc comment"
}
