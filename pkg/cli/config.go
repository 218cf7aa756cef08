package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// A setting is a flag whose default can also come from the environment and the
// configuration file. Precedence: flag > DOT_* environment variable > config
// file > built-in default.
type setting struct {
	flag string // flag name, e.g. "argocd-namespace"
}

// env is the environment variable of a setting: DOT_ARGOCD_NAMESPACE.
func (s setting) env() string {
	return "DOT_" + strings.ToUpper(strings.ReplaceAll(s.flag, "-", "_"))
}

// key is the configuration file key of a setting: argocdNamespace.
func (s setting) key() string {
	parts := strings.Split(s.flag, "-")
	for i := 1; i < len(parts); i++ {
		parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
	}
	return strings.Join(parts, "")
}

// settings lists the flags that take defaults from the environment and the
// config file. Flags that authorise a change (--yes, --dry-run) are left out
// on purpose: a file or variable must not approve changes silently.
var settings = []setting{
	{flag: "timeout"},
	{flag: "gitops"},
	{flag: "argocd-namespace"},
	{flag: "argocd-context"},
	{flag: "output"},
	{flag: "log-level"},
	{flag: "git-username"},
	{flag: "git-author-name"},
	{flag: "git-author-email"},
}

// configFile is the parsed configuration file: key → value and line.
type configFile struct {
	path   string
	values map[string]configValue
}

type configValue struct {
	value string
	line  int
}

// configPath returns the configuration file to read and whether the user
// named it explicitly (then it must exist).
func configPath(getenv func(string) string) (string, bool) {
	if p := getenv("DOT_CONFIG"); p != "" {
		return p, true
	}
	dir := getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home := getenv("HOME")
		if home == "" {
			return "", false
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "dot", "config.yaml"), false
}

// loadConfigFile reads and validates the configuration file. A missing file
// is fine unless it was named by DOT_CONFIG; an unknown key is an error that
// names the key, the file and the line.
func loadConfigFile(path string, explicit bool) (*configFile, error) {
	cf := &configFile{path: path, values: map[string]configValue{}}
	if path == "" {
		return cf, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && !explicit {
			return cf, nil
		}
		return nil, fmt.Errorf("read config file: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return cf, nil // empty file
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("config file %s:%d: expected a mapping of settings", path, root.Line)
	}
	known := map[string]bool{}
	for _, s := range settings {
		known[s.key()] = true
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if !known[k.Value] {
			return nil, fmt.Errorf("config file %s:%d: unknown key %q (known keys: %s)", path, k.Line, k.Value, strings.Join(knownKeys(), ", "))
		}
		if v.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("config file %s:%d: key %q must be a scalar value", path, v.Line, k.Value)
		}
		cf.values[k.Value] = configValue{value: v.Value, line: v.Line}
	}
	return cf, nil
}

func knownKeys() []string {
	keys := make([]string, 0, len(settings))
	for _, s := range settings {
		keys = append(keys, s.key())
	}
	sort.Strings(keys)
	return keys
}

// applySettings fills every setting flag of cmd that was not given on the
// command line from the environment, then from the config file. Values go
// through the flag's own Set, so they are validated the same way as flags,
// and an error names where the bad value came from.
//
// It returns, for every setting the command has, where its value came from.
func applySettings(cmd *cobra.Command, getenv func(string) string, cf *configFile) ([]SettingValue, error) {
	flags := cmd.Flags()
	var out []SettingValue
	for _, s := range settings {
		f := flags.Lookup(s.flag)
		if f == nil {
			continue
		}
		sv := SettingValue{Key: s.key(), Flag: "--" + s.flag, Env: s.env(), Source: "default"}
		switch cv, inFile := cf.values[s.key()]; {
		case f.Changed:
			sv.Source = "flag"
		case getenv(s.env()) != "":
			if err := setFlag(f, getenv(s.env())); err != nil {
				return nil, &UsageError{fmt.Errorf("environment variable %s: %w", s.env(), err)}
			}
			sv.Source = "env"
		case inFile:
			if err := setFlag(f, cv.value); err != nil {
				return nil, &UsageError{fmt.Errorf("config file %s:%d: key %q: %w", cf.path, cv.line, s.key(), err)}
			}
			sv.Source = fmt.Sprintf("file %s:%d", cf.path, cv.line)
		}
		sv.Value = f.Value.String()
		out = append(out, sv)
	}
	return out, nil
}

// SettingValue is the effective value of one setting and where it came from:
// "flag", "env", "file <path>:<line>" or "default".
type SettingValue struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Source string `json:"source"`
	Flag   string `json:"flag"`
	Env    string `json:"env"`
}

func setFlag(f *pflag.Flag, v string) error {
	if err := f.Value.Set(v); err != nil {
		return fmt.Errorf("invalid value %q: %w", v, err)
	}
	return nil
}
