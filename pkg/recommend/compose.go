package recommend

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// composeFile is the part of a Compose file recommend reads.
type composeFile struct {
	Services map[string]composeService `json:"services"`
}

type composeService struct {
	Image       string `json:"image"`
	Ports       []any  `json:"ports"`
	Environment any    `json:"environment"`
	Deploy      struct {
		Replicas *int32 `json:"replicas"`
	} `json:"deploy"`
}

// ParseCompose reads one service of a Compose file into an Intent: image,
// the first container port, environment, deploy.replicas; the service name
// becomes the workload name. service may be empty when the file has only
// one. A service without ports is a worker; engines (postgres, redis, ...)
// become databases and caches.
func ParseCompose(data []byte, service string) (Intent, error) {
	var f composeFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		return Intent{}, fmt.Errorf("parse compose file: %w", err)
	}
	names := make([]string, 0, len(f.Services))
	for n := range f.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	if service == "" {
		if len(names) != 1 {
			return Intent{}, fmt.Errorf("the compose file has %d services (%s): name one", len(names), strings.Join(names, ", "))
		}
		service = names[0]
	}
	s, ok := f.Services[service]
	if !ok {
		return Intent{}, fmt.Errorf("the compose file has no service %q (services: %s)", service, strings.Join(names, ", "))
	}
	in := Intent{Name: dnsName(service), Image: s.Image, Archetype: Web}
	if s.Deploy.Replicas != nil {
		in.Replicas = *s.Deploy.Replicas
	}
	for _, p := range s.Ports {
		port, err := composePort(p)
		if err != nil {
			return Intent{}, fmt.Errorf("service %s: %w", service, err)
		}
		if port > 0 {
			in.Port = port
			break
		}
	}
	env, err := composeEnv(s.Environment)
	if err != nil {
		return Intent{}, fmt.Errorf("service %s: %w", service, err)
	}
	in.Env = env
	if e, ok := engines[imageBase(s.Image)]; ok {
		in.Archetype, in.Engine = Archetype(e[0]), e[1]
	} else if in.Port == 0 {
		in.Archetype = Worker
	}
	return in, nil
}

// composePort returns the container port of a ports entry: "8080:80",
// "127.0.0.1:8080:80/tcp", "80", 80, or {target: 80}.
func composePort(p any) (int32, error) {
	var s string
	switch x := p.(type) {
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64)
	case string:
		s = x
	case map[string]any:
		t, ok := x["target"].(float64)
		if !ok {
			return 0, fmt.Errorf("port %v has no target", x)
		}
		s = strconv.FormatFloat(t, 'f', -1, 64)
	default:
		return 0, fmt.Errorf("port %v: unknown form", p)
	}
	s, _, _ = strings.Cut(s, "/")
	if i := strings.LastIndex(s, ":"); i >= 0 {
		s = s[i+1:]
	}
	if lo, _, ok := strings.Cut(s, "-"); ok {
		s = lo // a range: its first port
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %v: not a port", p)
	}
	return int32(n), nil
}

// composeEnv reads a map or a ["K=V"] list, in a stable order.
func composeEnv(v any) ([]EnvVar, error) {
	var out []EnvVar
	switch x := v.(type) {
	case nil:
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			val := ""
			if x[k] != nil {
				val = fmt.Sprint(x[k])
			}
			out = append(out, EnvVar{Name: k, Value: val})
		}
	case []any:
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("environment entry %v is not KEY=VALUE", e)
			}
			k, val, _ := strings.Cut(s, "=")
			out = append(out, EnvVar{Name: k, Value: val})
		}
	default:
		return nil, fmt.Errorf("environment: want a map or a list")
	}
	return out, nil
}
