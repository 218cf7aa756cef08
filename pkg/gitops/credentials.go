package gitops

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dot-ai/dot/pkg/gitops/repo"
)

// auth returns the Git credentials for a source: the explicit ones when
// given, else (only with UseClusterCredentials) the owner's own from the
// cluster, else anonymous.
func (d *Deliverer) auth(ctx context.Context, o *Owner, s Source) (repo.Auth, error) {
	a := d.Options.Git.Auth
	if a.Password != "" || a.SSHKeyFile != "" || a.SSHAgent {
		return a, nil
	}
	if !d.Options.Git.UseClusterCredentials || o == nil {
		return a, nil
	}
	ca, err := d.Cluster.ClusterCredentials(ctx, o, s)
	if err != nil {
		return repo.Auth{}, err
	}
	ca.KnownHostsFiles, ca.InsecureSkipHostKeyCheck = a.KnownHostsFiles, a.InsecureSkipHostKeyCheck
	return ca, nil
}

// ClusterCredentials reads the Git credentials the owner's controller uses:
// the Flux GitRepository's secretRef, or the Argo CD repository (exact URL)
// or repo-creds (URL prefix) secret. Values are returned in memory only.
func (c *Cluster) ClusterCredentials(ctx context.Context, o *Owner, s Source) (repo.Auth, error) {
	var sec *corev1.Secret
	switch {
	case o.Kind == OwnerArgoCDApplication:
		found, err := c.argoRepoSecret(ctx, s.RepoURL)
		if err != nil || found == nil {
			return repo.Auth{}, err
		}
		sec = found
	case s.SecretRef != "":
		ns, name, _ := strings.Cut(s.SecretRef, "/")
		sec = &corev1.Secret{}
		if err := c.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, sec); err != nil {
			return repo.Auth{}, fmt.Errorf("read Git credentials secret %s: %w", s.SecretRef, err)
		}
	default:
		return repo.Auth{}, nil
	}
	where := fmt.Sprintf("secret %s/%s", sec.Namespace, sec.Name)
	switch {
	case len(sec.Data["password"]) > 0:
		return repo.Auth{Username: string(sec.Data["username"]), Password: string(sec.Data["password"])}, nil
	case len(sec.Data["bearerToken"]) > 0:
		return repo.Auth{Password: string(sec.Data["bearerToken"])}, nil
	case len(sec.Data["identity"]) > 0 || len(sec.Data["sshPrivateKey"]) > 0:
		return repo.Auth{}, fmt.Errorf("%s holds an SSH key; dot reads SSH keys from files only: pass --git-ssh-key", where)
	}
	return repo.Auth{}, fmt.Errorf("%s has no username/password or bearerToken", where)
}

// argoRepoSecret finds Argo CD's credentials for a repository URL: a
// "repository" secret with the same URL wins over the longest matching
// "repo-creds" prefix.
func (c *Cluster) argoRepoSecret(ctx context.Context, url string) (*corev1.Secret, error) {
	var list corev1.SecretList
	if err := c.argo().List(ctx, &list, client.InNamespace(c.argoNamespace()), client.HasLabels{"argocd.argoproj.io/secret-type"}); err != nil {
		return nil, fmt.Errorf("list Argo CD repository secrets: %w", err)
	}
	var best *corev1.Secret
	bestLen := -1
	for i := range list.Items {
		sec := &list.Items[i]
		u := string(sec.Data["url"])
		switch sec.Labels["argocd.argoproj.io/secret-type"] {
		case "repository":
			if SameRepo(u, url) {
				return sec, nil
			}
		case "repo-creds":
			if strings.HasPrefix(url, u) && len(u) > bestLen {
				best, bestLen = sec, len(u)
			}
		}
	}
	return best, nil
}
