package recommend

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Level says how much a question matters.
type Level string

// Question levels.
const (
	// Required questions have no safe default: without an answer nothing is
	// generated.
	Required Level = "required"
	// Basic questions have a default from the intent or the cluster that
	// most users want to see.
	Basic Level = "basic"
	// Advanced questions have defaults few users change.
	Advanced Level = "advanced"
)

// Question is one choice the user can make. Default comes from the intent
// or the capability scan.
type Question struct {
	ID      string   `json:"id"`
	Level   Level    `json:"level"`
	Prompt  string   `json:"prompt"`
	Default string   `json:"default,omitempty"`
	Choices []string `json:"choices,omitempty"`
}

// Solution is one way to run the intent on this cluster.
type Solution struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	// Why is the one-line reason for its rank.
	Why string `json:"why"`
}

// Answers are the user's answers by question ID.
type Answers map[string]string

// Recommendation is what the pipeline proposes before generating: ranked
// solutions and the questions that matter, with defaults.
type Recommendation struct {
	Intent       Intent        `json:"intent"`
	Capabilities *Capabilities `json:"capabilities"`
	Solutions    []Solution    `json:"solutions"`
	Questions    []Question    `json:"questions"`
}

// Spec is an intent with every choice made: what Generate renders.
type Spec struct {
	Intent
	Solution string `json:"solution"`
	// Exposure is ingress, httproute or none.
	Exposure     string `json:"exposure"`
	IngressClass string `json:"ingressClass,omitempty"`
	// Gateway is the parent Gateway of an HTTPRoute, "namespace/name".
	Gateway      string `json:"gateway,omitempty"`
	TLSIssuer    string `json:"tlsIssuer,omitempty"`
	StorageClass string `json:"storageClass,omitempty"`
	HealthPath   string `json:"healthPath,omitempty"`
	CPU          string `json:"cpu"`
	Memory       string `json:"memory"`
	Autoscale    bool   `json:"autoscale,omitempty"`
	MaxReplicas  int32  `json:"maxReplicas,omitempty"`
	// NetworkPolicy restricts ingress traffic to the workload's port.
	NetworkPolicy bool `json:"networkPolicy"`
	// AllowLatest accepts an unpinned image (":latest" or no tag).
	AllowLatest bool `json:"allowLatest,omitempty"`
}

// Default images of the engines, pinned.
var engineImages = map[string]string{
	"postgres": "postgres:17.2", "mysql": "mysql:8.4.3", "mariadb": "mariadb:11.4.4", "mongodb": "mongo:8.0.4",
	"redis": "redis:7.4.1", "valkey": "valkey/valkey:8.0.1", "memcached": "memcached:1.6.33",
}

// Default ports of the engines.
var enginePorts = map[string]int32{
	"postgres": 5432, "mysql": 3306, "mariadb": 3306, "mongodb": 27017, "redis": 6379, "valkey": 6379, "memcached": 11211,
}

// Recommend ranks solutions and lists the questions for an intent on a
// cluster with the given capabilities.
func Recommend(in Intent, caps *Capabilities) *Recommendation {
	if caps == nil {
		caps = &Capabilities{}
	}
	if in.Archetype == "" {
		in.Archetype = Web
	}
	if in.Image == "" && in.Engine != "" {
		in.Image = engineImages[in.Engine]
	}
	if in.Port == 0 && in.Engine != "" {
		in.Port = enginePorts[in.Engine]
	}
	r := &Recommendation{Intent: in, Capabilities: caps}
	r.Solutions = solutions(in, caps)
	r.Questions = questions(in, caps, r.Solutions)
	return r
}

func solutions(in Intent, caps *Capabilities) []Solution {
	ingressClass := caps.DefaultIngressClass
	if ingressClass == "" && len(caps.IngressClasses) == 1 {
		ingressClass = caps.IngressClasses[0]
	}
	switch in.Archetype {
	case Database:
		var out []Solution
		if in.Engine == "postgres" && caps.CloudNativePG {
			out = append(out, Solution{ID: "cloudnative-pg", Title: "CloudNativePG Cluster",
				Why: "the CloudNativePG operator is installed: it handles failover, backups and minor upgrades"})
		}
		why := "one pod with a persistent volume; no failover"
		if caps.DefaultStorageClass == "" && len(caps.StorageClasses) == 0 {
			why += "; the cluster has no storage class, so the claim needs one named"
		}
		out = append(out, Solution{ID: "statefulset", Title: "StatefulSet with a volume", Why: why})
		return out
	case Cache:
		return []Solution{{ID: "deployment", Title: "Deployment + Service", Why: "a cache keeps no state worth a volume; one replica avoids split caches"}}
	case Worker:
		return []Solution{{ID: "deployment", Title: "Deployment", Why: "a worker runs continuously and serves no traffic"}}
	case Cron:
		return []Solution{{ID: "cronjob", Title: "CronJob", Why: "runs on a schedule; no pod stays up between runs"}}
	}
	var out []Solution
	if in.Public {
		if ingressClass != "" {
			out = append(out, Solution{ID: "ingress", Title: "Deployment + Service + Ingress",
				Why: fmt.Sprintf("ingress class %q serves outside traffic on this cluster", ingressClass)})
		}
		if caps.GatewayAPI && len(caps.Gateways) > 0 {
			out = append(out, Solution{ID: "httproute", Title: "Deployment + Service + HTTPRoute",
				Why: fmt.Sprintf("Gateway API is installed with Gateway %s", caps.Gateways[0])})
		}
		if len(out) == 0 {
			out = append(out, Solution{ID: "service", Title: "Deployment + Service (not exposed)",
				Why: "public was asked, but the cluster has no ingress class and no Gateway: expose it once one exists"})
			return out
		}
	}
	out = append(out, Solution{ID: "service", Title: "Deployment + Service", Why: "reachable inside the cluster only"})
	return out
}

func questions(in Intent, caps *Capabilities, sols []Solution) []Question {
	var qs []Question
	add := func(id string, lvl Level, prompt, def string, choices ...string) {
		if lvl == Basic && def == "" {
			lvl = Required
		}
		qs = append(qs, Question{ID: id, Level: lvl, Prompt: prompt, Default: def, Choices: choices})
	}
	itoa := func(n int32) string {
		if n == 0 {
			return ""
		}
		return strconv.Itoa(int(n))
	}
	add("image", Basic, "Container image (pinned tag or digest)", in.Image)
	add("name", Basic, "Name of the workload", in.Name)
	ns := in.Namespace
	if ns == "" {
		ns = caps.Namespace
	}
	add("namespace", Basic, "Namespace", ns)
	if len(sols) > 1 {
		var ids []string
		for _, s := range sols {
			ids = append(ids, s.ID)
		}
		add("solution", Basic, "Solution", sols[0].ID, ids...)
	}
	if in.Archetype != Cron && in.Archetype != Worker {
		add("port", Basic, "Port the container listens on", itoa(in.Port))
	}
	switch in.Archetype {
	case Web:
		rep := in.Replicas
		if rep == 0 {
			rep = 2
		}
		add("replicas", Basic, "Replicas", itoa(rep))
		if in.Public {
			add("host", Basic, "Public host name", in.Host)
			ic := caps.DefaultIngressClass
			if ic == "" && len(caps.IngressClasses) > 0 {
				ic = caps.IngressClasses[0]
			}
			if len(caps.IngressClasses) > 0 {
				add("ingressClass", Advanced, "Ingress class", ic, caps.IngressClasses...)
			}
			if len(caps.Gateways) > 0 {
				add("gateway", Advanced, "Gateway for the HTTPRoute (namespace/name)", caps.Gateways[0], caps.Gateways...)
			}
			if len(caps.ClusterIssuers) > 0 {
				add("tlsIssuer", Advanced, "cert-manager ClusterIssuer for TLS (empty: no TLS)", caps.ClusterIssuers[0], caps.ClusterIssuers...)
			}
		}
		auto := "false"
		if caps.MetricsAPI && rep > 1 {
			auto = "true"
		}
		add("autoscale", Advanced, "Autoscale on CPU (HorizontalPodAutoscaler)", auto, "true", "false")
		add("healthPath", Advanced, "HTTP path for probes (empty: TCP probes on the port)", "")
	case Worker:
		rep := in.Replicas
		if rep == 0 {
			rep = 1
		}
		add("replicas", Basic, "Replicas", itoa(rep))
	case Cron:
		add("schedule", Basic, "Schedule (cron expression)", in.Schedule)
	case Database:
		size := in.Storage
		if size == "" {
			size = "10Gi"
		}
		add("storage", Basic, "Volume size", size)
		sc := caps.DefaultStorageClass
		if len(caps.StorageClasses) > 0 || sc != "" {
			add("storageClass", Advanced, "Storage class", sc, caps.StorageClasses...)
		}
	}
	cpu, mem := "100m", "128Mi"
	if in.Archetype == Database {
		cpu, mem = "250m", "512Mi"
	}
	add("cpu", Advanced, "CPU request (the limit is 4x)", cpu)
	add("memory", Advanced, "Memory request and limit", mem)
	add("networkPolicy", Advanced, "Allow ingress traffic only to the workload's port", "true", "true", "false")
	for i := range qs {
		if qs[i].Level == Basic && qs[i].Default == "" {
			qs[i].Level = Required
		}
	}
	return qs
}

// MissingAnswersError lists required questions without an answer.
type MissingAnswersError struct {
	Questions []Question
}

func (e *MissingAnswersError) Error() string {
	var s []string
	for _, q := range e.Questions {
		s = append(s, fmt.Sprintf("%s (%s)", q.ID, q.Prompt))
	}
	return "required answers missing: " + strings.Join(s, ", ")
}

// ErrUnpinnedImage is returned for an image without a tag, or tagged
// latest, unless Spec.AllowLatest is set.
var ErrUnpinnedImage = errors.New("image is not pinned")

// Missing returns the required questions that ans leaves unanswered.
func (r *Recommendation) Missing(ans Answers) []Question {
	var out []Question
	for _, q := range r.Questions {
		if q.Level == Required && q.Default == "" && strings.TrimSpace(ans[q.ID]) == "" {
			out = append(out, q)
		}
	}
	return out
}

// Resolve makes every choice: answers first, then defaults. It fails with
// a *MissingAnswersError listing every required question left open, and on
// answers it cannot use.
func (r *Recommendation) Resolve(ans Answers, allowLatest bool) (*Spec, error) {
	known := map[string]Question{}
	for _, q := range r.Questions {
		known[q.ID] = q
	}
	var unknown []string
	for k := range ans {
		if _, ok := known[k]; !ok {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		var ids []string
		for _, q := range r.Questions {
			ids = append(ids, q.ID)
		}
		return nil, fmt.Errorf("unknown answers %s (questions: %s)", strings.Join(unknown, ", "), strings.Join(ids, ", "))
	}
	if m := r.Missing(ans); len(m) > 0 {
		return nil, &MissingAnswersError{Questions: m}
	}
	get := func(id string) string {
		if v, ok := ans[id]; ok {
			return strings.TrimSpace(v)
		}
		return known[id].Default
	}
	var errs []error
	num := func(id string) int32 {
		s := get(id)
		if s == "" {
			return 0
		}
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a number", id, s))
		}
		return int32(n)
	}
	flag := func(id string) bool {
		s := get(id)
		if s == "" {
			return false
		}
		b, err := strconv.ParseBool(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not true or false", id, s))
		}
		return b
	}
	choice := func(id string) string {
		v := get(id)
		if q := known[id]; v != "" && len(q.Choices) > 0 {
			ok := false
			for _, c := range q.Choices {
				ok = ok || c == v
			}
			if !ok {
				errs = append(errs, fmt.Errorf("%s: %q is not one of %s", id, v, strings.Join(q.Choices, ", ")))
			}
		}
		return v
	}

	s := &Spec{Intent: r.Intent, AllowLatest: allowLatest}
	s.Image, s.Name, s.Namespace = get("image"), dnsName(get("name")), get("namespace")
	s.Port, s.Replicas = num("port"), num("replicas")
	s.Host, s.Schedule, s.Storage = get("host"), get("schedule"), get("storage")
	s.IngressClass, s.Gateway, s.TLSIssuer, s.StorageClass = choice("ingressClass"), choice("gateway"), get("tlsIssuer"), choice("storageClass")
	s.HealthPath, s.CPU, s.Memory = get("healthPath"), get("cpu"), get("memory")
	s.Autoscale, s.NetworkPolicy = flag("autoscale"), flag("networkPolicy")
	if len(r.Solutions) > 0 {
		s.Solution = r.Solutions[0].ID
	}
	if _, ok := known["solution"]; ok {
		s.Solution = choice("solution")
	}
	if s.Port > 65535 {
		errs = append(errs, fmt.Errorf("port: %d is out of range", s.Port))
	}
	if s.Name == "" {
		errs = append(errs, errors.New("name: not a valid name"))
	}
	for _, q := range [][2]string{{"cpu", s.CPU}, {"memory", s.Memory}, {"storage", s.Storage}} {
		if _, err := resource.ParseQuantity(q[1]); q[1] != "" && err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not a quantity", q[0], q[1]))
		}
	}
	if s.CPU == "" || s.Memory == "" {
		errs = append(errs, errors.New("cpu and memory requests are required"))
	}
	if s.Archetype == Database && s.Storage == "" {
		errs = append(errs, errors.New("storage: a database needs a volume size"))
	}
	if s.HealthPath != "" && !strings.HasPrefix(s.HealthPath, "/") {
		errs = append(errs, fmt.Errorf("healthPath: %q must start with /", s.HealthPath))
	}
	switch s.Solution {
	case "ingress":
		s.Exposure = "ingress"
	case "httproute":
		s.Exposure = "httproute"
	default:
		s.Exposure = "none"
	}
	if s.Exposure == "ingress" && s.IngressClass == "" {
		errs = append(errs, errors.New("ingressClass: the cluster has no ingress class"))
	}
	if s.Autoscale {
		s.MaxReplicas = max(s.Replicas*3, s.Replicas+1)
	}
	if err := checkPinned(s.Image, allowLatest); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// checkPinned refuses images without a tag or tagged latest: GitOps needs
// a reproducible reference.
func checkPinned(image string, allowLatest bool) error {
	if allowLatest {
		return nil
	}
	tag, digest := ImageTag(image)
	if digest {
		return nil
	}
	switch tag {
	case "":
		return fmt.Errorf("%w: %s has no tag: name a version (e.g. %s:1.2.3) or a digest, or pass --allow-latest", ErrUnpinnedImage, image, image)
	case "latest":
		return fmt.Errorf("%w: %s: \"latest\" changes under you and Git cannot tell; name a version or a digest, or pass --allow-latest", ErrUnpinnedImage, image)
	}
	return nil
}
