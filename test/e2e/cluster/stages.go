package cluster

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// failureStages are kwok Stage files that put selected pods into failure
// states, so tests can diagnose and fix them: containers whose image
// contains "e2e-oom" (with a memory limit below 128Mi) are OOMKilled,
// "e2e-crashloop" crash-loop (or, in pods with restartPolicy Never, exit
// 1 once and fail), "doesnotexist" cannot be pulled,
// "e2e-notready" never become ready, nor do "e2e-probe" containers whose
// readiness probe checks a port they do not declare. Each has a weight
// above the default stages (weight 0) for the pods it selects, so kwok
// always picks it for them; every other pod matches none of them and keeps
// the default behaviour.
//
//go:embed stages/*.yaml
var failureStages embed.FS

// writeFailureStages writes the failure stages under dir and returns their
// paths, for kwok's --config flags.
func writeFailureStages(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	entries, err := fs.ReadDir(failureStages, "stages")
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, e := range entries {
		b, err := failureStages.ReadFile("stages/" + e.Name())
		if err != nil {
			return nil, err
		}
		p := filepath.Join(dir, e.Name())
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return nil, fmt.Errorf("write kwok stage %s: %w", p, err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}
