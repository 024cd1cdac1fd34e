// Command apiserver-proxy forwards TCP connections from the real node's bridge
// address to the API server, which listens on loopback only. Pods reach the API
// through the "kubernetes" Service (10.96.0.1:443), whose endpoint is this
// proxy; TLS passes through untouched, so pods still verify the API server's
// certificate and authenticate with their own tokens.
package main

import (
	"flag"
	"io"
	"log"
	"net"
)

func main() {
	listen := flag.String("listen", "", "address to accept connections on (the node's bridge address)")
	to := flag.String("to", "", "the API server's loopback address")
	flag.Parse()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("forwarding %s to %s", *listen, *to)
	for {
		in, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go func() {
			defer in.Close()
			out, err := net.Dial("tcp", *to)
			if err != nil {
				log.Print(err)
				return
			}
			defer out.Close()
			done := make(chan struct{}, 2)
			go func() { io.Copy(out, in); done <- struct{}{} }()
			go func() { io.Copy(in, out); done <- struct{}{} }()
			<-done
		}()
	}
}
