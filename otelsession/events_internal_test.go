package otelsession

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sessionkit/session"
)

// TestEveryEventKindIsKnown reads the session package's source and checks
// that every Event* kind it declares is counted under its own name, not as
// "other": a kind added there must be added to eventReasons.
func TestEveryEventKindIsKnown(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("session sources not found: %v", err)
	}
	fset := token.NewFileSet()
	var kinds []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if !id.IsExported() || !strings.HasPrefix(id.Name, "Event") || i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						v, _ := strconv.Unquote(lit.Value)
						kinds = append(kinds, v)
					}
				}
			}
		}
	}
	if len(kinds) < 10 {
		t.Fatalf("found only %d event kinds in the session package: %v", len(kinds), kinds)
	}
	for _, k := range kinds {
		if got := eventAttrs(k, "").kind; got != k {
			t.Errorf("event kind %q is counted as %q: add it to eventReasons", k, got)
		}
	}
	if len(kinds) != len(eventReasons) {
		t.Errorf("the session package declares %d event kinds, eventReasons lists %d", len(kinds), len(eventReasons))
	}
}

// TestStoreExpiryHasItsReason: an expiry the store reported (Reason
// "expired") is counted apart from an expired cookie that came back (no
// reason).
func TestStoreExpiryHasItsReason(t *testing.T) {
	for _, kind := range []string{session.EventExpiredIdle, session.EventExpiredAbsolute} {
		if got := eventAttrs(kind, "expired"); got != (eventKey{kind, "expired"}) {
			t.Errorf("%s with Reason expired is counted as %+v", kind, got)
		}
		if got := eventAttrs(kind, ""); got != (eventKey{kind: kind}) {
			t.Errorf("%s without a reason is counted as %+v", kind, got)
		}
	}
}
