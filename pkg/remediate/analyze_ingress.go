package remediate

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/dot-ai/dot/pkg/kube"
)

const (
	// defaultIngressClassAnnotation marks the class used by Ingresses that
	// name none.
	defaultIngressClassAnnotation = "ingressclass.kubernetes.io/is-default-class"
	// legacyIngressClassAnnotation is the class annotation that predates
	// spec.ingressClassName; controllers still honour it.
	legacyIngressClassAnnotation = "kubernetes.io/ingress.class"
)

// ingressAnalyzer checks what an Ingress refers to: its class, the
// Services and ports of its backends, and its TLS Secrets. A missing class
// means no controller serves it; a missing backend answers 503; a missing
// TLS Secret makes the controller serve its default certificate.
type ingressAnalyzer struct{}

func (ingressAnalyzer) Name() string { return "ingresses" }

func (ingressAnalyzer) Analyze(s *Snapshot) []Finding {
	var out []Finding
	for i := range s.Ingresses {
		ing := &s.Ingresses[i]
		if f, ok := ingressClassFinding(s, ing); ok {
			out = append(out, f)
		}
		out = append(out, ingressBackendFindings(s, ing)...)
		out = append(out, ingressTLSFindings(s, ing)...)
	}
	return out
}

func ingressClassFinding(s *Snapshot, ing *networkingv1.Ingress) (Finding, bool) {
	if !s.IngressClassesRead {
		return Finding{}, false
	}
	ref := refTo(gvIngress, ing.Namespace, ing.Name)
	var names, defaults []string
	for _, c := range s.IngressClasses {
		names = append(names, c.Name)
		if c.Annotations[defaultIngressClassAnnotation] == "true" {
			defaults = append(defaults, c.Name)
		}
	}
	names = sortedStrings(names)
	f := Finding{ID: FindingIngressClass, Object: ref, Severity: SeverityCritical, Facts: map[string]string{"classes": strings.Join(names, ",")},
		Detail: "No ingress controller claims an Ingress whose class does not exist, so its hosts are not routed (requests get the default backend or nothing)."}
	switch {
	case ing.Spec.IngressClassName != nil:
		class := *ing.Spec.IngressClassName
		if slices.Contains(names, class) {
			return Finding{}, false
		}
		f.Summary = fmt.Sprintf("IngressClass %q does not exist (classes: %s)", class, orDefault(strings.Join(names, ", "), "none"))
		f.Evidence = []Evidence{ev("spec", ref, nil, "ingressClassName %s; IngressClasses: %s", class, orDefault(strings.Join(names, ", "), "none"))}
		f.Facts["class"] = class
		f.Facts["candidates"] = strings.Join(nearNames(class, names), ",")
	case ing.Annotations[legacyIngressClassAnnotation] != "":
		// The legacy annotation names a controller's class, which need not
		// be an IngressClass object: nothing to check.
		return Finding{}, false
	case len(defaults) == 0:
		f.Severity = SeverityWarning
		f.Summary = fmt.Sprintf("names no IngressClass and no class is the default (classes: %s)", orDefault(strings.Join(names, ", "), "none"))
		f.Evidence = []Evidence{ev("spec", ref, nil, "no ingressClassName, no %s annotation; no IngressClass is annotated %s", legacyIngressClassAnnotation, defaultIngressClassAnnotation)}
	default:
		return Finding{}, false
	}
	return f, true
}

// ingressBackend is one service backend of an Ingress and where it is.
type ingressBackend struct {
	where string
	// field is the path of the backend's service name in the Ingress.
	field string
	svc   *networkingv1.IngressServiceBackend
}

// ingressBackends lists an Ingress's service backends.
func ingressBackends(ing *networkingv1.Ingress) []ingressBackend {
	var out []ingressBackend
	if b := ing.Spec.DefaultBackend; b != nil && b.Service != nil {
		out = append(out, ingressBackend{"defaultBackend", "spec.defaultBackend.service.name", b.Service})
	}
	for i, r := range ing.Spec.Rules {
		if r.HTTP == nil {
			continue
		}
		for j, p := range r.HTTP.Paths {
			if p.Backend.Service == nil {
				continue
			}
			where := fmt.Sprintf("host %s path %s", orDefault(r.Host, "*"), orDefault(p.Path, "/"))
			field := fmt.Sprintf("spec.rules[%d].http.paths[%d].backend.service.name", i, j)
			out = append(out, ingressBackend{where, field, p.Backend.Service})
		}
	}
	return out
}

func ingressBackendFindings(s *Snapshot, ing *networkingv1.Ingress) []Finding {
	ref := refTo(gvIngress, ing.Namespace, ing.Name)
	var names []string
	for _, svc := range s.Services {
		names = append(names, svc.Name)
	}
	var out []Finding
	seen := map[string]bool{}
	for _, b := range ingressBackends(ing) {
		port := b.svc.Port.Name
		if port == "" {
			port = strconv.Itoa(int(b.svc.Port.Number))
		}
		k := b.svc.Name + ":" + port
		if seen[k] {
			continue
		}
		seen[k] = true
		svc := s.service(b.svc.Name)
		f := Finding{ID: FindingIngressBackend, Object: ref, Severity: SeverityCritical,
			Facts: map[string]string{"service": b.svc.Name, "port": port, "field": b.field}}
		switch {
		case svc == nil:
			f.Summary = fmt.Sprintf("backend service %q (%s) does not exist", b.svc.Name, b.where)
			f.Detail = "The ingress controller answers 503 for paths whose Service does not exist: renamed, not created yet, or a typo."
			f.Evidence = []Evidence{ev("spec", ref, nil, "%s: backend service %s port %s; services: %s", b.where, b.svc.Name, port, orDefault(strings.Join(names, ", "), "none"))}
			f.Facts["candidates"] = strings.Join(nearNames(b.svc.Name, names), ",")
		case !servicePortExists(svc, b.svc.Port):
			var ports []string
			for _, p := range svc.Spec.Ports {
				ports = append(ports, fmt.Sprintf("%d%s", p.Port, parenName(p.Name)))
			}
			f.Summary = fmt.Sprintf("backend port %s of service %s (%s) does not exist (ports: %s)", port, b.svc.Name, b.where, orDefault(strings.Join(ports, ", "), "none"))
			f.Detail = "The backend names a port the Service does not define, so the controller has no endpoints for the path and answers 503."
			f.Evidence = []Evidence{ev("spec", ref, nil, "%s: backend service %s port %s", b.where, b.svc.Name, port),
				ev("spec", refTo(gvService, svc.Namespace, svc.Name), nil, "service %s ports: %s", svc.Name, orDefault(strings.Join(ports, ", "), "none"))}
			if len(svc.Spec.Ports) == 1 {
				f.Facts["servicePort"] = strconv.Itoa(int(svc.Spec.Ports[0].Port))
			}
		default:
			continue
		}
		out = append(out, f)
	}
	if len(out) < 2 {
		return out
	}
	// One finding per Ingress (findings are keyed by object): the first
	// problem's facts, every problem's summary and evidence.
	all := out[0]
	var sums []string
	for i, f := range out {
		sums = append(sums, f.Summary)
		if i > 0 {
			all.Evidence = append(all.Evidence, f.Evidence...)
		}
	}
	all.Summary = fmt.Sprintf("%d backends are broken: %s", len(out), strings.Join(sums, "; "))
	all.Detail = "The ingress controller answers 503 for paths whose Service or Service port does not exist."
	return []Finding{all}
}

func servicePortExists(svc *corev1.Service, p networkingv1.ServiceBackendPort) bool {
	for _, sp := range svc.Spec.Ports {
		if (p.Name != "" && sp.Name == p.Name) || (p.Name == "" && sp.Port == p.Number) {
			return true
		}
	}
	return false
}

func ingressTLSFindings(s *Snapshot, ing *networkingv1.Ingress) []Finding {
	if !s.SecretsRead {
		return nil
	}
	ref := refTo(gvIngress, ing.Namespace, ing.Name)
	var out []Finding
	for i, t := range ing.Spec.TLS {
		if t.SecretName == "" {
			continue // the controller's default certificate, by choice
		}
		keys, ok := s.Secrets[t.SecretName]
		hosts := orDefault(strings.Join(t.Hosts, ", "), "all hosts")
		f := Finding{ID: FindingIngressTLS, Object: ref, Severity: SeverityWarning,
			Facts:  map[string]string{"secret": t.SecretName, "field": fmt.Sprintf("spec.tls[%d].secretName", i)},
			Detail: "Without a usable TLS Secret the ingress controller serves its default (self-signed) certificate for these hosts, so clients reject the connection. The Secret is often created by cert-manager: check its Certificate."}
		switch {
		case !ok:
			f.Summary = fmt.Sprintf("TLS secret %q for %s does not exist", t.SecretName, hosts)
			f.Evidence = []Evidence{ev("spec", ref, nil, "tls secretName %s for %s; no such Secret in %s", t.SecretName, hosts, ing.Namespace)}
		case !slices.Contains(keys, corev1.TLSCertKey) || !slices.Contains(keys, corev1.TLSPrivateKeyKey):
			f.Summary = fmt.Sprintf("TLS secret %q for %s has no %s and %s", t.SecretName, hosts, corev1.TLSCertKey, corev1.TLSPrivateKeyKey)
			f.Evidence = []Evidence{ev("spec", ref, nil, "tls secretName %s; its keys: %s", t.SecretName, orDefault(strings.Join(keys, ", "), "none"))}
		default:
			continue
		}
		out = append(out, f)
	}
	return out
}

func (s *Snapshot) service(name string) *corev1.Service {
	return named(s.Services, name)
}

// ingressesOf returns the Ingresses with a backend on one of services.
func (s *Snapshot) ingressesOf(services []kube.ObjectRef) []kube.ObjectRef {
	var out []kube.ObjectRef
	for i := range s.Ingresses {
		for _, b := range ingressBackends(&s.Ingresses[i]) {
			if slices.ContainsFunc(services, func(r kube.ObjectRef) bool { return r.Kind == "Service" && r.Name == b.svc.Name }) {
				out = append(out, refTo(gvIngress, s.Ingresses[i].Namespace, s.Ingresses[i].Name))
				break
			}
		}
	}
	return out
}
