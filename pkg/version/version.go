// Package version reports the build identity of dot. The variables are set at
// link time by the Makefile (-ldflags "-X github.com/dot-ai/dot/pkg/version.gitVersion=...").
package version

import (
	"fmt"
	"runtime"
)

var (
	gitVersion   = "v0.0.0-dev"
	gitCommit    = "unknown"
	gitTreeState = "unknown"
	buildDate    = "1970-01-01T00:00:00Z"
)

// Info is the build identity of the dot binary, shaped like Kubernetes'
// version.Info so tools that read `kubectl version -o json` read ours too.
type Info struct {
	GitVersion   string `json:"gitVersion"`
	GitCommit    string `json:"gitCommit"`
	GitTreeState string `json:"gitTreeState"`
	BuildDate    string `json:"buildDate"`
	GoVersion    string `json:"goVersion"`
	Compiler     string `json:"compiler"`
	Platform     string `json:"platform"`
}

// Get returns the build identity of the running binary.
func Get() Info {
	return Info{
		GitVersion:   gitVersion,
		GitCommit:    gitCommit,
		GitTreeState: gitTreeState,
		BuildDate:    buildDate,
		GoVersion:    runtime.Version(),
		Compiler:     runtime.Compiler,
		Platform:     fmt.Sprintf("%s/%s", runtime.GOOS, runtime.GOARCH),
	}
}

// String returns the git version, e.g. "v0.1.0".
func (i Info) String() string { return i.GitVersion }
