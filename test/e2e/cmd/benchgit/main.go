// Command benchgit splits the write-back benchmark (pkg/gitops/repo,
// BenchmarkWriteBack) into processes, so hack/bench.sh can measure the peak
// RSS of the client alone with /usr/bin/time -v:
//
//	benchgit serve -root DIR
//	    serve the bare repositories under DIR (as the benchmark left them
//	    with DOT_BENCH_REPO_DIR=DIR) on a loopback port; print the base URL
//	    on stdout; run until SIGINT or SIGTERM.
//	benchgit update -url URL -file PATH
//	    one write-back with dot's repo.Update: shallow clone, change the
//	    replicas line of PATH, commit, push.
//
// The git CLI side of the comparison is plain git commands in the script.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"time"

	"github.com/dot-ai/dot/internal/gitserver"
	"github.com/dot-ai/dot/pkg/gitops/repo"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "benchgit:", err)
		os.Exit(1)
	}
}

const usage = "usage: benchgit serve -root DIR | benchgit update -url URL -file PATH"

func run(args []string) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	fs := flag.NewFlagSet("benchgit "+args[0], flag.ContinueOnError)
	switch args[0] {
	case "serve":
		root := fs.String("root", "", "directory holding the bare repositories")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *root == "" {
			return errors.New(usage)
		}
		return serve(*root)
	case "update":
		url := fs.String("url", "", "repository URL")
		file := fs.String("file", "", "file whose replicas line to change")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *url == "" || *file == "" {
			return errors.New(usage)
		}
		return update(*url, *file)
	}
	return errors.New(usage)
}

func serve(root string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := gitserver.Start(ctx, gitserver.Options{Root: root})
	if err != nil {
		return err
	}
	fmt.Println(srv.URL())
	<-ctx.Done()
	return srv.Close()
}

var replicasRE = regexp.MustCompile(`(?m)^  replicas: (\d+)`)

func update(url, file string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	opts := repo.Options{URL: url, Branch: "main", Author: repo.Signature{Name: "bench", Email: "bench@example.com"}}
	res, err := repo.Update(ctx, opts, repo.UpdateOptions{}, func(_ context.Context, dir string) ([]string, string, error) {
		p := filepath.Join(dir, filepath.FromSlash(file))
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, "", err
		}
		m := replicasRE.FindSubmatchIndex(b)
		if m == nil {
			return nil, "", fmt.Errorf("%s: no replicas line", file)
		}
		n, _ := strconv.Atoi(string(b[m[2]:m[3]]))
		out := append(append(append([]byte{}, b[:m[2]]...), strconv.Itoa(n+1)...), b[m[3]:]...)
		return []string{file}, "bench: benchgit update", os.WriteFile(p, out, 0o644)
	})
	if err != nil {
		return err
	}
	fmt.Println(res.Commit)
	return nil
}
