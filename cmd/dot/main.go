// Command dot changes Kubernetes workloads through Git when Argo CD or Flux
// owns them, and by server-side apply when nothing does. Installed as
// kubectl-dot it also works as `kubectl dot`.
package main

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/dot-ai/dot/pkg/cli"
)

func main() {
	os.Exit(cli.Run(os.Args, genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}))
}
