module seedcoder.dev/tools/echoserver

go 1.26.0
