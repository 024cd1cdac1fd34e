module seedcoder.dev/tools/apiserver-proxy

go 1.26.0
