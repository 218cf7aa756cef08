package gitsource_test

import (
	"context"
	"log"

	"github.com/dot-ai/dot/test/e2e/cluster/gitsource"
	"k8s.io/client-go/tools/clientcmd"
)

// The environment runs a Publisher next to kustomize-controller, against an
// apiserver where the Flux CRDs are installed.
func Example() {
	cfg, err := clientcmd.BuildConfigFromFlags("", "/path/to/kubeconfig")
	if err != nil {
		log.Fatal(err)
	}
	pub, err := gitsource.New(cfg, gitsource.Options{StorageDir: "/path/to/env/artifacts"})
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() {
		if err := pub.Start(ctx); err != nil {
			log.Print(err)
		}
	}()
	<-pub.Ready()
	log.Printf("artifacts served at %s", pub.URL())
}
