package cli

import (
	"encoding/json"
	"fmt"
	"io"

	"sigs.k8s.io/yaml"
)

// tabler is implemented by results that know how to print themselves as a
// human-readable table.
type tabler interface {
	writeTable(w io.Writer) error
}

// printResult writes v to w in the chosen format. JSON and YAML are stable,
// machine-readable renderings of the same data the table shows.
func printResult(w io.Writer, format string, v tabler) error {
	switch format {
	case OutputJSON:
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return fmt.Errorf("encode json: %w", err)
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case OutputYAML:
		b, err := yaml.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode yaml: %w", err)
		}
		_, err = w.Write(b)
		return err
	default:
		return v.writeTable(w)
	}
}
