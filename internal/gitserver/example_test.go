package gitserver_test

import (
	"context"
	"fmt"
	"log"

	"github.com/dot-ai/dot/internal/gitserver"
)

// A test starts a server, seeds a repository, hands RepoURL and the
// credentials to the code under test, and afterwards checks what reached the
// branch and that nobody force-pushed.
func Example() {
	ctx := context.Background()
	srv, err := gitserver.Start(ctx, gitserver.Options{Username: "dot", Password: "secret"})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	seeded, err := srv.Seed(ctx, "app", map[string]string{"deploy/app.yaml": "replicas: 1\n"}, "initial")
	if err != nil {
		log.Fatal(err)
	}
	// ... the code under test clones srv.RepoURL("app") as dot/secret and pushes ...

	head, _ := srv.Head(ctx, "app", "main")
	ff, _ := srv.IsFastForwardHistory(ctx, "app", "main")
	fmt.Println(head == seeded, ff)
	// Output: true true
}
