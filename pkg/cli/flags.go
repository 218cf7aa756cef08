package cli

import (
	"fmt"
	"github.com/spf13/cobra"
	"slices"
	"strings"
)

// enumValue is a string flag restricted to a fixed set of values.
type enumValue struct {
	value   string
	allowed []string
}

func newEnum(def string, allowed ...string) *enumValue {
	return &enumValue{value: def, allowed: allowed}
}

func (e *enumValue) String() string { return e.value }
func (e *enumValue) Type() string   { return strings.Join(e.allowed, "|") }

func (e *enumValue) Set(v string) error {
	if !slices.Contains(e.allowed, v) {
		return fmt.Errorf("must be one of %s", strings.Join(e.allowed, ", "))
	}
	e.value = v
	return nil
}

// GitOps modes of --gitops.
const (
	GitOpsAuto   = "auto"
	GitOpsArgoCD = "argocd"
	GitOpsFlux   = "flux"
	GitOpsOff    = "off"
)

// Dry-run modes of --dry-run, as in kubectl.
const (
	DryRunNone   = "none"
	DryRunClient = "client"
	DryRunServer = "server"
)

// Output formats of -o.
const (
	OutputTable = "table"
	OutputJSON  = "json"
	OutputYAML  = "yaml"
)

// OutputOptions is the -o flag of commands that print results.
type OutputOptions struct{ format *enumValue }

// Format returns table, json or yaml.
func (o *OutputOptions) Format() string { return o.format.value }

func addOutputFlag(cmd *cobra.Command, o *OutputOptions) {
	o.format = newEnum(OutputTable, OutputTable, OutputJSON, OutputYAML)
	cmd.Flags().VarP(o.format, "output", "o", "output format: table, json or yaml")
}
