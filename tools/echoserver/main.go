// Command echoserver is a tiny static HTTP server for the local node's tests:
// it answers every request with the pod's name, so a test can tell which
// backend a Service sent it to, and with "-get URL" it is its own client (the
// images have no shell or curl).
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	listen := flag.String("listen", ":8080", "address to serve on")
	get := flag.String("get", "", "fetch this URL, print the body and exit (0 on HTTP 200)")
	timeout := flag.Duration("timeout", 3*time.Second, "client timeout for -get")
	flag.Parse()
	if *get != "" {
		client := http.Client{Timeout: *timeout}
		resp, err := client.Get(*get)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Print(string(body))
		if resp.StatusCode != http.StatusOK {
			os.Exit(1)
		}
		return
	}
	name, _ := os.Hostname()
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s\n", name)
		fmt.Printf("%s %s from %s\n", r.Method, r.URL.Path, r.RemoteAddr)
	})
	if err := http.ListenAndServe(*listen, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
