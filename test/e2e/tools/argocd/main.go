// Command argocd is a multi-call binary holding the Argo CD v2 components the
// dot test bed runs: application-controller, repo-server, and git-ask-pass
// (which the repo-server's git invokes as "argocd" through GIT_ASKPASS).
//
// The component is chosen from ARGOCD_BINARY_NAME, else from the name the
// binary was started as (argocd-application-controller, argocd-repo-server,
// argocd-git-ask-pass). Leaving out the API server, CLI, Dex and the other
// controllers keeps the build much smaller and faster.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	appcontroller "github.com/argoproj/argo-cd/v2/cmd/argocd-application-controller/commands"
	gitaskpass "github.com/argoproj/argo-cd/v2/cmd/argocd-git-ask-pass/commands"
	reposerver "github.com/argoproj/argo-cd/v2/cmd/argocd-repo-server/commands"
)

var components = map[string]func() *cobra.Command{
	"argocd-application-controller": appcontroller.NewCommand,
	"argocd-repo-server":            reposerver.NewCommand,
	"argocd-git-ask-pass":           gitaskpass.NewCommand,
}

func main() {
	name := os.Getenv("ARGOCD_BINARY_NAME")
	if name == "" {
		name = filepath.Base(os.Args[0])
	}
	newCmd, ok := components[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "argocd: unknown component %q (set ARGOCD_BINARY_NAME to one of argocd-application-controller, argocd-repo-server, argocd-git-ask-pass)\n", name)
		os.Exit(2)
	}
	if err := newCmd().Execute(); err != nil {
		os.Exit(1)
	}
}
