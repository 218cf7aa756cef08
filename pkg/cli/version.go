package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	apiversion "k8s.io/apimachinery/pkg/version"

	"github.com/dot-ai/dot/pkg/version"
)

// VersionResult is what `dot version` prints.
type VersionResult struct {
	ClientVersion version.Info     `json:"clientVersion"`
	ServerVersion *apiversion.Info `json:"serverVersion,omitempty"`
	// ServerError says why the server version is missing, when a server was
	// asked for and could not be reached.
	ServerError string `json:"serverError,omitempty"`
}

func (r *VersionResult) writeTable(w io.Writer) error {
	fmt.Fprintf(w, "Client Version: %s\n", r.ClientVersion.GitVersion)
	if r.ServerVersion != nil {
		fmt.Fprintf(w, "Server Version: %s\n", r.ServerVersion.GitVersion)
	}
	return nil
}

// serverVersionTimeout bounds the server lookup so `dot version` stays quick
// when no cluster is reachable.
const serverVersionTimeout = 5 * time.Second

func newVersionCmd(cfg *Config) *cobra.Command {
	var out OutputOptions
	var clientOnly bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the client version, and the server version when a cluster is reachable",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := cfg.commandContext(cmd)
			defer cancel()
			res := &VersionResult{ClientVersion: cfg.version()}
			if !clientOnly {
				sv, err := serverVersion(ctx, cfg)
				if err != nil {
					res.ServerError = err.Error()
					cfg.Progress.Warn("server version unavailable: %v", err)
				} else {
					res.ServerVersion = sv
				}
			}
			return printResult(cfg.Streams.Out, out.Format(), res)
		},
	}
	addOutputFlag(cmd, &out)
	cmd.Flags().BoolVar(&clientOnly, "client", false, "print the client version only; do not contact a cluster")
	return cmd
}

func serverVersion(ctx context.Context, cfg *Config) (*apiversion.Info, error) {
	rc, err := cfg.KubeFlags.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	rc.Timeout = serverVersionTimeout
	disc, err := cfg.KubeFlags.ToDiscoveryClient()
	if err != nil {
		return nil, err
	}
	type answer struct {
		v   *apiversion.Info
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		v, err := disc.ServerVersion()
		ch <- answer{v, err}
	}()
	select {
	case a := <-ch:
		return a.v, a.err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(serverVersionTimeout):
		return nil, fmt.Errorf("no answer from the server within %s", serverVersionTimeout)
	}
}
