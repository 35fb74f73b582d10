/*
 * LD_PRELOAD shim used by scripts/tor-testnet/start for the exit relay and
 * the onion service.
 *
 * Why: tor deliberately skips OutboundBindAddress* when the destination is
 * a loopback address (connection_connect() in tor's connection.c), and the
 * kernel then picks 127.0.0.1 as the source for any 127.0.0.0/8
 * destination. On a loopback-only test network that makes a stream that
 * left the exit (or the onion service) indistinguishable from a direct
 * connection by the client. This shim binds such TCP sockets to
 * TOR_TESTNET_BIND_SOURCE before tor's connect() runs.
 *
 * Only sockets that are TCP, still unbound, and connecting to 127.0.0.0/8
 * on a port outside TOR_TESTNET_BIND_SKIP_PORTS ("LOW-HIGH", the test
 * network's own ORPort/DirPort range) are touched, so connections between
 * relays keep their normal source address. If binding fails the connect
 * goes ahead unbound.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);

static int port_is_skipped(unsigned port)
{
    const char *range = getenv("TOR_TESTNET_BIND_SKIP_PORTS");
    unsigned low, high;

    if (range == NULL || sscanf(range, "%u-%u", &low, &high) != 2)
        return 0;
    return port >= low && port <= high;
}

static int socket_is_unbound_tcp(int fd)
{
    int type = 0;
    socklen_t type_len = sizeof(type);
    struct sockaddr_in local;
    socklen_t local_len = sizeof(local);

    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &type_len) != 0 || type != SOCK_STREAM)
        return 0;
    memset(&local, 0, sizeof(local));
    if (getsockname(fd, (struct sockaddr *)&local, &local_len) != 0)
        return 0;
    return local.sin_port == 0 && local.sin_addr.s_addr == htonl(INADDR_ANY);
}

static void bind_to_test_source(int fd, const struct sockaddr_in *dest)
{
    const char *source = getenv("TOR_TESTNET_BIND_SOURCE");
    struct sockaddr_in src;
    int saved_errno = errno;

    if (source == NULL)
        return;
    if ((ntohl(dest->sin_addr.s_addr) >> 24) != 127)
        return;
    if (port_is_skipped(ntohs(dest->sin_port)) || !socket_is_unbound_tcp(fd))
        return;

    memset(&src, 0, sizeof(src));
    src.sin_family = AF_INET;
    if (inet_pton(AF_INET, source, &src.sin_addr) == 1)
        (void)bind(fd, (const struct sockaddr *)&src, sizeof(src));
    errno = saved_errno;
}

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    static connect_fn real_connect;

    if (real_connect == NULL)
        real_connect = (connect_fn)dlsym(RTLD_NEXT, "connect");
    if (real_connect == NULL) {
        errno = ENOSYS;
        return -1;
    }
    if (addr != NULL && addr->sa_family == AF_INET && len >= sizeof(struct sockaddr_in))
        bind_to_test_source(fd, (const struct sockaddr_in *)addr);
    return real_connect(fd, addr, len);
}
