// Command shape measures the shape of one Go package (the root package by
// default): non-test lines, exported and unexported package-level names,
// functions over 60 lines, and the pairs of files that use each other both
// ways. Complexity is gocyclo's (go run github.com/fzipp/gocyclo/cmd/gocyclo@latest -over 15 .).
//
//	go run ./tools/shape [dir]
//
// Counting rules: exported names are package-level exported identifiers
// (types, aliases, functions, variables, constants) plus exported methods
// of exported types; unexported names are package-level unexported
// identifiers (methods not included). A file uses another when it refers
// to a package-level identifier (or a method name, for methods defined
// only there) declared in the other.
package main

import (
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

func main() {
	dir := "."
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	if err := run(dir); err != nil {
		fmt.Fprintln(os.Stderr, "shape:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	fset := token.NewFileSet()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return err
	}
	files := map[string]*ast.File{}
	lines := 0
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, n, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files[filepath.Base(n)] = f
		lines += fset.File(f.Pos()).LineCount()
	}
	exported, unexported := 0, 0
	declared := map[string]string{} // name -> file
	var long []string
	for fn, f := range files {
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if n := fset.Position(d.End()).Line - fset.Position(d.Pos()).Line + 1; n > 60 {
					long = append(long, fmt.Sprintf("%s %s %d", fn, d.Name.Name, n))
				}
				if d.Recv == nil {
					count(d.Name.Name, &exported, &unexported)
					declared[d.Name.Name] = fn
					continue
				}
				if d.Name.IsExported() && ast.IsExported(recvName(d.Recv.List[0].Type)) {
					exported++
				}
				if _, ok := declared["."+d.Name.Name]; !ok {
					declared["."+d.Name.Name] = fn
				} else {
					declared["."+d.Name.Name] = "" // defined in several files
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						count(s.Name.Name, &exported, &unexported)
						declared[s.Name.Name] = fn
					case *ast.ValueSpec:
						for _, id := range s.Names {
							if id.Name == "_" {
								continue
							}
							count(id.Name, &exported, &unexported)
							declared[id.Name] = fn
						}
					}
				}
			}
		}
	}
	uses, why, err := fileUses(fset, files)
	if err != nil {
		return err
	}
	var pairs []string
	for p := range uses {
		if p[0] < p[1] && uses[[2]string{p[1], p[0]}] {
			pairs = append(pairs, p[0]+" <-> "+p[1]+" ("+why[p]+" / "+why[[2]string{p[1], p[0]}]+")")
		}
	}
	sort.Strings(pairs)
	sort.Strings(long)
	fmt.Printf("files %d, non-test lines %d\n", len(files), lines)
	fmt.Printf("exported names %d, unexported package-level names %d\n", exported, unexported)
	fmt.Printf("functions over 60 lines: %d\n", len(long))
	for _, l := range long {
		fmt.Println("  ", l)
	}
	fmt.Printf("file pairs that use each other both ways: %d\n", len(pairs))
	for _, p := range pairs {
		fmt.Println("  ", p)
	}
	return nil
}

func count(name string, exported, unexported *int) {
	if ast.IsExported(name) {
		*exported++
	} else {
		*unexported++
	}
}

func recvName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.StarExpr:
		return recvName(e.X)
	case *ast.IndexExpr:
		return recvName(e.X)
	case *ast.IndexListExpr:
		return recvName(e.X)
	case *ast.Ident:
		return e.Name
	}
	return ""
}

// fileUses type-checks the package and reports which file uses a name
// (package-level identifier, method or field) declared in which other file,
// with one such name per pair.
func fileUses(fset *token.FileSet, files map[string]*ast.File) (map[[2]string]bool, map[[2]string]string, error) {
	var list []*ast.File
	for _, f := range files {
		list = append(list, f)
	}
	info := &types.Info{Uses: map[*ast.Ident]types.Object{}, Selections: map[*ast.SelectorExpr]*types.Selection{}}
	conf := types.Config{Importer: importer.ForCompiler(fset, "source", nil)}
	pkg, err := conf.Check("", fset, list, info)
	if err != nil {
		return nil, nil, err
	}
	uses := map[[2]string]bool{}
	why := map[[2]string]string{}
	for id, obj := range info.Uses {
		if obj == nil || obj.Pkg() != pkg || !obj.Pos().IsValid() {
			continue
		}
		if _, local := obj.(*types.Var); local && obj.Parent() != pkg.Scope() && !obj.(*types.Var).IsField() {
			continue // a local variable or parameter
		}
		if obj.Parent() != nil && obj.Parent() != pkg.Scope() && obj.Parent() != types.Universe {
			if _, ok := obj.(*types.Var); !ok {
				continue // a local type or constant
			}
		}
		from := filepath.Base(fset.Position(id.Pos()).Filename)
		to := filepath.Base(fset.Position(obj.Pos()).Filename)
		if from != to && files[to] != nil {
			uses[[2]string{from, to}] = true
			why[[2]string{from, to}] = id.Name
		}
	}
	return uses, why, nil
}
