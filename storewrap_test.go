package session

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session/internal/storewrap"
)

// optionalInterfaces are the optional store interfaces, by name, as
// store.go declares them. TestOptionalInterfacesAreListed fails when
// store.go declares one that is missing here or from storewrap.Names.
var optionalInterfaces = map[string]reflect.Type{
	"UserIndex":      reflect.TypeFor[UserIndex](),
	"Fleet":          reflect.TypeFor[Fleet](),
	"Rotator":        reflect.TypeFor[Rotator](),
	"Refresher":      reflect.TypeFor[Refresher](),
	"endingCreator":  reflect.TypeFor[endingCreator](),
	"ExpiryNotifier": reflect.TypeFor[ExpiryNotifier](),
}

// The interfaces of package storewrap are these ones, method for method.
var (
	_ storewrap.Store          = Store(nil)
	_ Store                    = storewrap.Store(nil)
	_ storewrap.UserIndex      = UserIndex(nil)
	_ UserIndex                = storewrap.UserIndex(nil)
	_ storewrap.Fleet          = Fleet(nil)
	_ Fleet                    = storewrap.Fleet(nil)
	_ storewrap.Rotator        = Rotator(nil)
	_ Rotator                  = storewrap.Rotator(nil)
	_ storewrap.Refresher      = Refresher(nil)
	_ Refresher                = storewrap.Refresher(nil)
	_ storewrap.EndingCreator  = endingCreator(nil)
	_ endingCreator            = storewrap.EndingCreator(nil)
	_ storewrap.ExpiryNotifier = ExpiryNotifier(nil)
	_ ExpiryNotifier           = storewrap.ExpiryNotifier(nil)
)

// declaredInterfaces parses store.go for its interface types.
func declaredInterfaces(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "store.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	ast.Inspect(f, func(n ast.Node) bool {
		if ts, ok := n.(*ast.TypeSpec); ok {
			if _, ok := ts.Type.(*ast.InterfaceType); ok && ts.Name.Name != "Store" {
				names = append(names, ts.Name.Name)
			}
		}
		return true
	})
	return names
}

func TestOptionalInterfacesAreListed(t *testing.T) {
	declared := declaredInterfaces(t)
	if len(declared) == 0 {
		t.Fatal("found no optional interface in store.go")
	}
	for _, name := range declared {
		if _, ok := optionalInterfaces[name]; !ok {
			t.Errorf("store.go declares %s: add it to optionalInterfaces and to storewrap (Names, Parts, gen.go) so wrappers forward it", name)
		}
		if !slices.ContainsFunc(storewrap.Names, func(n string) bool { return strings.EqualFold(n, name) }) {
			t.Errorf("storewrap.Names lacks %s: SealValues and otelsession.WrapStore would drop it", name)
		}
	}
	if len(declared) != len(optionalInterfaces) || len(declared) != len(storewrap.Names) {
		t.Errorf("store.go declares %v; optionalInterfaces has %d, storewrap.Names %v", declared, len(optionalInterfaces), storewrap.Names)
	}
}

// fullStore implements every optional interface.
type fullStore struct{ *MemoryStore }

func (fullStore) UserSessions(context.Context, string) ([]IndexedRecord, error) { return nil, nil }
func (fullStore) RevokeUser(context.Context, string) error                      { return nil }
func (fullStore) Refresh(context.Context, string, string, time.Time) (*Meta, error) {
	return nil, nil
}
func (fullStore) CreateEnding(context.Context, string, *Record) error { return nil }

// interfacesOf names the optional interfaces v implements.
func interfacesOf(v any) []string {
	var names []string
	for name, typ := range optionalInterfaces {
		if reflect.TypeOf(v).Implements(typ) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// TestSealValuesForwardsEveryInterface: the wrapper has exactly the
// optional interfaces of the store it wraps, whichever they are.
func TestSealValuesForwardsEveryInterface(t *testing.T) {
	mem := NewMemoryStore()
	t.Cleanup(func() { _ = mem.Close() })
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	t.Cleanup(func() { _ = rdb.Close() })
	for name, inner := range map[string]Store{
		"full":   fullStore{mem},
		"memory": mem,
		"redis":  NewRedisStore(rdb),
		"bare":   struct{ Store }{mem},
	} {
		st, err := SealValues(inner, make([]byte, 32))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := interfacesOf(st), interfacesOf(inner); !slices.Equal(got, want) {
			t.Errorf("%s: SealValues has %v, the inner store %v", name, got, want)
		}
		if u, ok := st.(interface{ Unwrap() Store }); !ok || u.Unwrap() != inner {
			t.Errorf("%s: Unwrap does not return the inner store", name)
		}
	}
	if got := interfacesOf(fullStore{mem}); len(got) != len(optionalInterfaces) {
		t.Fatalf("fullStore implements only %v", got)
	}
	if got := interfacesOf(NewRedisStore(rdb)); !slices.Contains(got, "Refresher") {
		t.Fatalf("the Redis store is no longer a Refresher: %v", got)
	}
}
