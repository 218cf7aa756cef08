// Command kubehello is the baseline of the start-up benchmark of
// `dot version --client` (hack/bench.sh): about the least a client-go
// command-line tool does. It loads the kubeconfig the way kubectl does
// (KUBECONFIG, ~/.kube/config), builds a clientset without contacting the
// server, and prints client-go's version.
package main

import (
	"fmt"
	"os"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/pkg/version"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

func main() {
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(clientcmd.NewDefaultClientConfigLoadingRules(), nil)
	cfg, err := cc.ClientConfig()
	if err != nil {
		cfg = &rest.Config{Host: "https://127.0.0.1:6443"} // no kubeconfig: still build a client
	}
	if _, err := kubernetes.NewForConfig(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "kubehello:", err)
		os.Exit(1)
	}
	fmt.Printf("hello from client-go %s\n", version.Get().GitVersion)
}
