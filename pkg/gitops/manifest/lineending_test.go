package manifest

import (
	"errors"
	"strings"
	"testing"
)

func TestLoneCarriageReturnIsRefused(t *testing.T) {
	_, err := parseYAMLFile("apps/web.yaml", []byte("kind: ConfigMap\rmetadata:\n  name: x\n"))
	var e *Error
	if !errors.Is(err, ErrUnsupported) || !errors.As(err, &e) || e.File != "apps/web.yaml" || e.Line != 1 ||
		!strings.Contains(err.Error(), "carriage return") {
		t.Fatalf("err = %v", err)
	}
	// CRLF files are fine.
	if _, err := parseYAMLFile("a.yaml", []byte("kind: ConfigMap\r\nmetadata:\r\n  name: x\r\n")); err != nil {
		t.Errorf("CRLF: %v", err)
	}
}
