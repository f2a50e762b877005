// SPDX-License-Identifier: Apache-2.0
// A pion/turn client (Debian's golang-github-pion-turn.v2-dev) through a TURN server over
// UDP: it allocates, then sends messages to an echo peer it runs itself on a plain UDP
// socket, one at a time, each waited for before the next. pion creates the permission on the
// first send and binds a channel in the background; from then on its data travels as
// ChannelData. Usage:
//   relay_echo -server 127.0.0.1:3478 -user u -password p [-peer 127.0.0.1] [-count 200]
//              [-size 1000]
// Prints one JSON line: {"sent":N,"received":M,"relayed":"ip:port"}; exits 0 when every
// message came back intact.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/pion/logging"
	"github.com/pion/turn/v2"
)

func fail(what string, err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", what, err)
	os.Exit(2)
}

func main() {
	server := flag.String("server", "", "TURN server host:port")
	user := flag.String("user", "u", "user name")
	password := flag.String("password", "p", "password")
	peerIP := flag.String("peer", "127.0.0.1", "address of the echo peer")
	count := flag.Int("count", 200, "messages")
	size := flag.Int("size", 1000, "bytes per message")
	flag.Parse()

	conn, err := net.ListenPacket("udp4", "0.0.0.0:0")
	if err != nil {
		fail("listen", err)
	}
	defer conn.Close()
	client, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: *server,
		TURNServerAddr: *server,
		Conn:           conn,
		Username:       *user,
		Password:       *password,
		LoggerFactory:  logging.NewDefaultLoggerFactory(),
	})
	if err != nil {
		fail("client", err)
	}
	defer client.Close()
	if err = client.Listen(); err != nil {
		fail("listen", err)
	}
	relay, err := client.Allocate()
	if err != nil {
		fail("allocate", err)
	}
	defer relay.Close()

	// The echo peer: every datagram goes back where it came from (the relayed address).
	peer, err := net.ListenPacket("udp4", *peerIP+":0")
	if err != nil {
		fail("peer", err)
	}
	defer peer.Close()
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := peer.ReadFrom(buf)
			if err != nil {
				return
			}
			if _, err := peer.WriteTo(buf[:n], from); err != nil {
				return
			}
		}
	}()

	received := 0
	buf := make([]byte, 65536)
	for i := 0; i < *count; i++ {
		msg := bytes.Repeat([]byte{byte(i)}, *size)
		if _, err := relay.WriteTo(msg, peer.LocalAddr()); err != nil {
			fail("send", err)
		}
		if err := relay.SetReadDeadline(time.Now().Add(2 * time.Second)); err != nil {
			fail("deadline", err)
		}
		for {
			n, _, err := relay.ReadFrom(buf)
			if err != nil {
				break // lost: on to the next message
			}
			if bytes.Equal(buf[:n], msg) {
				received++
				break
			}
		}
	}
	out, _ := json.Marshal(map[string]interface{}{
		"sent": *count, "received": received, "relayed": relay.LocalAddr().String(),
	})
	fmt.Println(string(out))
	if received != *count {
		os.Exit(1)
	}
}
