package cli

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// ConfigView is what `dot config view` prints: the effective settings and
// where each came from.
type ConfigView struct {
	// File is the configuration file consulted (it may not exist).
	File     string         `json:"file"`
	Settings []SettingValue `json:"settings"`
}

func (v *ConfigView) writeTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tVALUE\tSOURCE\tFLAG\tENV")
	for _, s := range v.Settings {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Key, s.Value, s.Source, s.Flag, s.Env)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nconfig file: %s\n", v.File)
	return err
}

func newConfigCmd(cfg *Config) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show dot's effective configuration",
	}
	var out OutputOptions
	view := &cobra.Command{
		Use:   "view",
		Short: "Print every setting, its value and where it came from (flag, env, file, default)",
		Long: `Print every setting, its value and where it came from.

Precedence: flag > DOT_* environment variable > configuration file
($XDG_CONFIG_HOME/dot/config.yaml, or the file named by DOT_CONFIG) > default.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return printResult(cfg.Streams.Out, out.Format(), &ConfigView{File: cfg.configFile, Settings: cfg.settings})
		},
	}
	addOutputFlag(view, &out)
	cmd.AddCommand(view)
	return cmd
}
