/*
 * sello-relayd: the host relay between RFC 3161 clients and the Sello
 * module. Options, start-up order and shutdown; the work is done in
 * http.c (public HTTP), admin.c (local admin socket), module_link.c
 * (the one pipelined connection to the module), audit_store.c (the
 * durable log of the module's audit records, which every answer passes
 * through) and time_feed.c (the host time observations sent over that
 * connection).
 *
 * Threads: the main thread runs the first event loop (loop.h): the first
 * HTTP daemon, the module link, the audit store, the time feed and the
 * stop signals, so that a token
 * crosses no thread inside the relay. --threads N adds N-1 loops with a
 * daemon each, whose module calls go through the first loop. With --admin,
 * an acceptor plus one thread per admin client, whose calls do the same.
 * SIGINT and SIGTERM are blocked everywhere and read from a signalfd.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <sello/abi.h>

#include "admin.h"
#include "audit_store.h"
#include "http.h"
#include "log.h"
#include "loop.h"
#include "module_link.h"
#include "net.h"
#include "time_feed.h"

/* How long a shutdown waits for calls already with the module, so that
 * tokens the module has issued still reach their clients. */
#define RELAY_DRAIN_MS 2000u

struct relay_options {
    const char *listen;
    const char *module;
    const char *admin;
    const char *pidfile;
    const char *audit_log;
    const char *time_feed_source;
    unsigned time_feed_interval_ms; /* 0: no feed */
    unsigned max_body;
    unsigned module_timeout_ms;
    unsigned admin_timeout_ms;
    unsigned threads;
    unsigned max_connections;
    unsigned idle_timeout_s;
    enum relay_log_level log_level;
};

static void relay_usage(FILE *out)
{
    fprintf(
        out,
        "Usage: sello-relayd --module ADDR --audit-log PATH [options]\n"
        "\n"
        "Relays RFC 3161 time-stamp requests from HTTP clients to the Sello\n"
        "module, and module ABI frames from the local admin socket, and\n"
        "keeps the module's audit records.\n"
        "\n"
        "  --module ADDR            the module: unix:PATH (sello-sim) or\n"
        "                           tcp:HOST:PORT (a board behind a TCP\n"
        "                           bridge), raw frames; or serial:tcp:HOST:PORT\n"
        "                           or serial:unix:PATH, a board's UART behind\n"
        "                           a socket (e.g. QEMU's socket chardev), in\n"
        "                           the serial link framing (COBS + CRC-32);\n"
        "                           required\n"
        "  --audit-log PATH         the durable store of the module's audit\n"
        "                           records; required. An append-only file\n"
        "                           (created with mode 0600, locked against a\n"
        "                           second relay) of the raw records exactly\n"
        "                           as the module sent them, in sequence\n"
        "                           order, for 'sello audit verify'. A record\n"
        "                           left incomplete by a crash is cut off at\n"
        "                           start. Group commit: the records of all\n"
        "                           answers that arrive in one turn of the\n"
        "                           event loop are written, then one\n"
        "                           fdatasync(), and only then are those\n"
        "                           answers released (tokens sent, admin\n"
        "                           frames forwarded without their records)\n"
        "                           and the records acknowledged to the\n"
        "                           module (AUDIT_ACK). If the write or the\n"
        "                           fdatasync() fails, those answers are\n"
        "                           withheld (HTTP 500) and nothing is\n"
        "                           acknowledged: the module keeps the\n"
        "                           records and stops issuing when its\n"
        "                           buffer is full. Records the relay missed\n"
        "                           are read back from the module\n"
        "                           (AUDIT_READ), also at every connection\n"
        "                           and before serving\n"
        "  --listen HOST:PORT       HTTP address, [v6]:PORT for IPv6\n"
        "                           (default 127.0.0.1:3161)\n"
        "  --admin PATH             create the admin socket at PATH (mode\n"
        "                           0600; root and this user only); none\n"
        "                           by default\n"
        "  --max-body N             largest request body accepted, octets\n"
        "                           (default and maximum %u: the module's\n"
        "                           frame payload limit)\n"
        "  --module-timeout-ms N    500 for a request the module has not\n"
        "                           answered within N ms (default 10000)\n"
        "  --admin-timeout-ms N     the same for admin frames, which include\n"
        "                           key generation (default 300000)\n"
        "  --threads N              HTTP event-loop threads (default 1)\n"
        "  --max-connections N      concurrent HTTP connections (default\n"
        "                           1024)\n"
        "  --idle-timeout S         close idle keep-alive connections after\n"
        "                           S seconds (default 60; 0 = never)\n"
        "  --time-feed-interval-ms N\n"
        "                           send the module a time observation every\n"
        "                           N ms (default %u; 0 = no feed): the\n"
        "                           host's CLOCK_REALTIME, with the kernel's\n"
        "                           error bound (ntp_adjtime maxerror, kept\n"
        "                           by chrony, ntpd or a PTP daemon) plus the\n"
        "                           time the reading took as its uncertainty.\n"
        "                           Nothing is sent while the kernel reports\n"
        "                           itself unsynchronised (STA_UNSYNC): the\n"
        "                           module then keeps time alone until its\n"
        "                           drift could exceed its accuracy\n"
        "  --time-feed-source FILE  test and diagnostic option: each\n"
        "                           observation reads FILE, one line\n"
        "                           \"OFFSET_US UNCERTAINTY_US SYNC\" (e.g.\n"
        "                           \"1500000 2000 1\": host time + 1.5 s,\n"
        "                           2 ms uncertainty; SYNC 0: as if the\n"
        "                           kernel were unsynchronised), instead of\n"
        "                           the kernel's verdict; a missing FILE\n"
        "                           means the kernel, an invalid one no\n"
        "                           observation. It only changes what this\n"
        "                           untrusted host reports, as a compromised\n"
        "                           host could anyway: the module still\n"
        "                           checks every observation against its own\n"
        "                           clock, accuracy and slew limit\n"
        "  --log-level LEVEL        error, warn, info or debug (default info)\n"
        "  --pidfile PATH           write the process id to PATH\n"
        "  --help                   this text\n"
        "\n"
        "HTTP: POST / with Content-Type application/timestamp-query and a\n"
        "DER TimeStampReq -> 200 application/timestamp-reply. 400 empty body\n"
        "or a body the module finds no TimeStampReq (with its badDataFormat\n"
        "reply), 411 no Content-Length, 413 body over --max-body, 415 other\n"
        "content type, 500 module unavailable or the token's audit record\n"
        "not stored. GET / describes the service and the audit log;\n"
        "GET /tsa.crt and /chain.pem serve the certificates.\n"
        "SIGINT or SIGTERM stops the relay cleanly.\n",
        SELLO_PAYLOAD_MAX, RELAY_FEED_INTERVAL_DEFAULT_MS);
}

/* Parses a decimal option value in [min, max]. */
static bool relay_parse_uint(const char *name, const char *text,
                             unsigned min, unsigned max, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' ||
        v < min || v > max) {
        relay_log(RELAY_LOG_ERROR, "--%s wants a number from %u to %u, not '%s'",
                  name, min, max, text);
        return false;
    }
    *out = (unsigned)v;
    return true;
}

/* Returns 0 to run, 1 after --help, -1 on a usage error (logged). */
static int relay_parse_options(int argc, char **argv,
                               struct relay_options *o)
{
    enum {
        OPT_LISTEN = 256,
        OPT_MODULE,
        OPT_ADMIN,
        OPT_PIDFILE,
        OPT_AUDIT_LOG,
        OPT_MAX_BODY,
        OPT_MODULE_TIMEOUT,
        OPT_ADMIN_TIMEOUT,
        OPT_THREADS,
        OPT_MAX_CONNECTIONS,
        OPT_IDLE_TIMEOUT,
        OPT_LOG_LEVEL,
        OPT_TIME_FEED_INTERVAL,
        OPT_TIME_FEED_SOURCE,
        OPT_HELP,
    };
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"module", required_argument, NULL, OPT_MODULE},
        {"admin", required_argument, NULL, OPT_ADMIN},
        {"pidfile", required_argument, NULL, OPT_PIDFILE},
        {"audit-log", required_argument, NULL, OPT_AUDIT_LOG},
        {"max-body", required_argument, NULL, OPT_MAX_BODY},
        {"module-timeout-ms", required_argument, NULL, OPT_MODULE_TIMEOUT},
        {"admin-timeout-ms", required_argument, NULL, OPT_ADMIN_TIMEOUT},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
        {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"time-feed-interval-ms", required_argument, NULL,
         OPT_TIME_FEED_INTERVAL},
        {"time-feed-source", required_argument, NULL, OPT_TIME_FEED_SOURCE},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };

    *o = (struct relay_options){
        .listen = "127.0.0.1:3161",
        .max_body = SELLO_PAYLOAD_MAX,
        .module_timeout_ms = 10000,
        .admin_timeout_ms = 300000,
        .threads = 1,
        .max_connections = 1024,
        .idle_timeout_s = 60,
        .time_feed_interval_ms = RELAY_FEED_INTERVAL_DEFAULT_MS,
        .log_level = RELAY_LOG_INFO,
    };
    int c;
    bool ok = true;
    while (ok && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_LISTEN:
            o->listen = optarg;
            break;
        case OPT_MODULE:
            o->module = optarg;
            break;
        case OPT_ADMIN:
            o->admin = optarg;
            break;
        case OPT_PIDFILE:
            o->pidfile = optarg;
            break;
        case OPT_AUDIT_LOG:
            if (optarg[0] == '\0') {
                relay_log(RELAY_LOG_ERROR, "--audit-log wants a file name");
                ok = false;
            }
            o->audit_log = optarg;
            break;
        case OPT_MAX_BODY:
            ok = relay_parse_uint("max-body", optarg, 1, SELLO_PAYLOAD_MAX,
                                  &o->max_body);
            break;
        case OPT_MODULE_TIMEOUT:
            ok = relay_parse_uint("module-timeout-ms", optarg, 1, 3600000,
                                  &o->module_timeout_ms);
            break;
        case OPT_ADMIN_TIMEOUT:
            ok = relay_parse_uint("admin-timeout-ms", optarg, 1, 3600000,
                                  &o->admin_timeout_ms);
            break;
        case OPT_THREADS:
            ok = relay_parse_uint("threads", optarg, 1, 64, &o->threads);
            break;
        case OPT_MAX_CONNECTIONS:
            ok = relay_parse_uint("max-connections", optarg, 1, 65536,
                                  &o->max_connections);
            break;
        case OPT_IDLE_TIMEOUT:
            ok = relay_parse_uint("idle-timeout", optarg, 0, 86400,
                                  &o->idle_timeout_s);
            break;
        case OPT_TIME_FEED_INTERVAL:
            ok = relay_parse_uint("time-feed-interval-ms", optarg, 0,
                                  3600000, &o->time_feed_interval_ms);
            break;
        case OPT_TIME_FEED_SOURCE:
            if (optarg[0] == '\0') {
                relay_log(RELAY_LOG_ERROR,
                          "--time-feed-source wants a file name");
                ok = false;
            }
            o->time_feed_source = optarg;
            break;
        case OPT_LOG_LEVEL:
            ok = relay_log_parse_level(optarg, &o->log_level);
            if (!ok)
                relay_log(RELAY_LOG_ERROR,
                          "--log-level wants error, warn, info or debug");
            break;
        case OPT_HELP:
            relay_usage(stdout);
            return 1;
        default:
            ok = false; /* getopt has said what */
        }
    }
    if (ok && optind < argc) {
        relay_log(RELAY_LOG_ERROR, "unexpected argument '%s'", argv[optind]);
        ok = false;
    }
    if (ok && o->module == NULL) {
        relay_log(RELAY_LOG_ERROR, "--module is required");
        ok = false;
    }
    if (ok && o->time_feed_source != NULL && o->time_feed_interval_ms == 0) {
        relay_log(RELAY_LOG_ERROR,
                  "--time-feed-source needs the time feed "
                  "(--time-feed-interval-ms above 0)");
        ok = false;
    }
    /* Last, so that a mistake in the options given is named first. */
    if (ok && o->audit_log == NULL) {
        relay_log(RELAY_LOG_ERROR,
                  "--audit-log is required: the relay is the durable store "
                  "of the module's audit records, and serves no token "
                  "whose record it has not stored (the module stops "
                  "issuing when nobody stores them)");
        ok = false;
    }
    if (!ok) {
        fprintf(stderr, "Try 'sello-relayd --help'.\n");
        return -1;
    }
    return 0;
}

static bool relay_write_pidfile(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        relay_log(RELAY_LOG_ERROR, "cannot write %s: %s", path,
                  strerror(errno));
        return false;
    }
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    bool ok = write(fd, buf, (size_t)n) == n;
    if (close(fd) != 0 || !ok) {
        relay_log(RELAY_LOG_ERROR, "cannot write %s", path);
        unlink(path);
        return false;
    }
    return true;
}

/* An HTTP loop beyond the first (--threads). */
enum relay_phase { RELAY_RUN, RELAY_QUIESCE, RELAY_STOP };

struct relay_worker {
    unsigned index;
    struct relay_loop *loop;
    struct relay_http *http;
    pthread_t thread;
    bool started;
    atomic_int phase; /* enum relay_phase, set by the main loop */
};

static void *relay_worker_thread(void *arg)
{
    struct relay_worker *w = arg;
    bool quiesced = false;
    for (;;) {
        int phase = atomic_load(&w->phase);
        if (phase != RELAY_RUN && !quiesced) {
            relay_http_quiesce(w->http, w->index);
            quiesced = true;
        }
        if (phase == RELAY_STOP)
            break;
        relay_loop_turn(w->loop, relay_http_prepare(w->http, w->index,
                                                     relay_now_ns()));
        relay_http_run(w->http, w->index, relay_now_ns());
    }
    /* Answer what the link failed at its stop, so that nothing stays
     * suspended. */
    relay_http_run(w->http, w->index, relay_now_ns());
    return NULL;
}

/* The stop signals, read in the main loop. */
struct relay_signals {
    int fd;
    int caught; /* 0 until SIGINT or SIGTERM */
    struct relay_watch watch;
};

static void relay_signal_ready(struct relay_watch *w, uint32_t events)
{
    struct relay_signals *sg =
        (struct relay_signals *)((char *)w -
                                 offsetof(struct relay_signals, watch));
    struct signalfd_siginfo si;
    (void)events;
    if (read(sg->fd, &si, sizeof si) == (ssize_t)sizeof si &&
        sg->caught == 0)
        sg->caught = (int)si.ssi_signo;
}

/* Runs the main loop until a stop signal, then lets the calls already
 * with the module finish (up to RELAY_DRAIN_MS) while no new connection
 * and no new call is taken. */
static void relay_main_loop(struct relay_loop *loop, struct relay_http *http,
                            struct relay_link *link,
                            struct relay_audit *audit, struct relay_feed *feed,
                            struct relay_signals *sg,
                            struct relay_worker *workers, unsigned n_workers)
{
    bool draining = false;
    uint64_t drain_until = 0;
    for (;;) {
        uint64_t now = relay_now_ns();
        int t = relay_timeout_min(relay_http_prepare(http, 0, now),
                                  relay_link_timeout_ms(link, now));
        t = relay_timeout_min(t, relay_feed_timeout_ms(feed, now));
        if (draining)
            t = relay_timeout_min(t, relay_timeout_until(now, drain_until));
        relay_loop_turn(loop, t);
        now = relay_now_ns();
        if (sg->caught != 0 && !draining) {
            relay_log(RELAY_LOG_INFO, "%s: stopping", strsignal(sg->caught));
            relay_http_quiesce(http, 0);
            for (unsigned i = 1; i < n_workers; i++) {
                atomic_store(&workers[i].phase, RELAY_QUIESCE);
                relay_loop_wake(workers[i].loop);
            }
            relay_feed_stop(feed);
            relay_link_refuse(link);
            draining = true;
            drain_until = now + (uint64_t)RELAY_DRAIN_MS * 1000000u;
        }
        /* Order matters: expiries fail calls; the turn's audit records
         * are made durable, which releases the answers that carried them
         * (resuming their connections); MHD answers those and reads new
         * requests; and the frames of those (with the turn's AUDIT_ACK
         * and a due time observation) go to the module together. */
        relay_link_run(link, now);
        relay_audit_run(audit);
        relay_http_run(http, 0, now);
        relay_feed_run(feed, now);
        relay_link_flush(link);
        if (draining && ((relay_link_live(link) == 0 &&
                          !relay_audit_busy(audit)) ||
                         now >= drain_until))
            return;
    }
}

int main(int argc, char **argv)
{
    struct relay_options o;
    int rc = relay_parse_options(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    relay_log_threshold = o.log_level;

    /* The stop signals are read from a signalfd by the main loop: every
     * thread started from here on inherits this mask. A vanished peer
     * shows up as EPIPE, never as SIGPIPE. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct relay_addr listen_addr, module_addr;
    if (!relay_addr_parse_inet(o.listen, true, &listen_addr) ||
        !relay_addr_parse_module(o.module, &module_addr))
        return 2;

    struct relay_worker *workers = calloc(o.threads, sizeof *workers);
    struct relay_loop **loops = calloc(o.threads, sizeof *loops);
    struct relay_signals sg = {.fd = -1, .watch.ready = relay_signal_ready};
    struct relay_link *link = NULL;
    struct relay_audit *audit = NULL;
    struct relay_feed *feed = NULL;
    struct relay_admin *admin = NULL;
    struct relay_http *http = NULL;
    bool pidfile_written = false;
    rc = 1;
    int listen_fd = -1;
    if (workers == NULL || loops == NULL) {
        relay_log(RELAY_LOG_ERROR, "out of memory");
        goto out;
    }
    for (unsigned i = 0; i < o.threads; i++) {
        workers[i].index = i;
        loops[i] = workers[i].loop = relay_loop_new();
        if (loops[i] == NULL)
            goto out;
    }
    sg.fd = signalfd(-1, &stop_signals, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sg.fd < 0 || !relay_loop_add(loops[0], sg.fd, EPOLLIN, &sg.watch)) {
        relay_log(RELAY_LOG_ERROR, "signalfd: %s", strerror(errno));
        goto out;
    }
    listen_fd = relay_listen_inet(&listen_addr, 1024);
    if (listen_fd < 0)
        goto out;

    /* Every HTTP slot and admin client may have a call out, and expired
     * calls keep their place until the module answers them; twice that
     * leaves room before submissions are refused as busy. */
    unsigned max_calls = 2 * (o.max_connections + RELAY_ADMIN_MAX_CLIENTS);
    audit = relay_audit_open(o.audit_log, o.module_timeout_ms);
    if (audit == NULL)
        goto out;
    struct relay_link_sink sink;
    relay_audit_sink(audit, &sink);
    link = relay_link_start(loops[0], &module_addr, max_calls,
                            o.module_timeout_ms, &sink);
    if (link == NULL)
        goto out;
    /* Before serving: what the module made while no relay stored it. */
    relay_audit_catch_up(audit, loops[0], link, o.module_timeout_ms);
    if (o.time_feed_interval_ms > 0) {
        feed = relay_feed_start(link, o.time_feed_interval_ms,
                                o.time_feed_source, o.module_timeout_ms);
        if (feed == NULL)
            goto out;
    }
    if (o.admin != NULL) {
        admin = relay_admin_start(o.admin, link, o.admin_timeout_ms);
        if (admin == NULL)
            goto out;
    }
    struct relay_http_config hc = {
        .listen_fd = listen_fd,
        .threads = o.threads,
        .loops = loops,
        .max_connections = o.max_connections,
        .idle_timeout_s = o.idle_timeout_s,
        .max_body = o.max_body,
        .module_timeout_ms = o.module_timeout_ms,
        .link = link,
        .feed = feed,
        .audit = audit,
    };
    http = relay_http_start(&hc);
    if (http == NULL)
        goto out;
    listen_fd = -1; /* MHD's now */
    for (unsigned i = 1; i < o.threads; i++) {
        workers[i].http = http;
        int e = pthread_create(&workers[i].thread, NULL, relay_worker_thread,
                               &workers[i]);
        if (e != 0) {
            relay_log(RELAY_LOG_ERROR, "cannot start an HTTP thread: %s",
                      strerror(e));
            goto out;
        }
        workers[i].started = true;
    }
    if (o.pidfile != NULL) {
        pidfile_written = relay_write_pidfile(o.pidfile);
        if (!pidfile_written)
            goto out;
    }
    char feed_text[PATH_MAX + 96];
    if (feed == NULL)
        snprintf(feed_text, sizeof feed_text, "off");
    else if (o.time_feed_source != NULL)
        snprintf(feed_text, sizeof feed_text,
                 "every %u ms from test source %s (kernel when absent)",
                 o.time_feed_interval_ms, o.time_feed_source);
    else
        snprintf(feed_text, sizeof feed_text, "every %u ms from the kernel",
                 o.time_feed_interval_ms);
    relay_log(RELAY_LOG_INFO,
              "serving http://%s, module %s, admin socket %s, %u thread(s), "
              "time feed %s, audit log %s",
              listen_addr.text, module_addr.text,
              o.admin != NULL ? o.admin : "(none)", o.threads, feed_text,
              o.audit_log);

    relay_main_loop(loops[0], http, link, audit, feed, &sg, workers,
                    o.threads);
    rc = 0;

out:
    /* Order matters. Stopping the link fails every call left, which
     * resumes every suspended HTTP connection (MHD must not be stopped
     * with one suspended: each loop runs its daemon once more to answer
     * them) and wakes every admin client waiting for the module; only
     * then can those threads be joined. */
    if (link != NULL)
        relay_link_stop(link);
    relay_audit_stop(audit);
    if (http != NULL)
        relay_http_run(http, 0, relay_now_ns());
    for (unsigned i = 1; workers != NULL && i < o.threads; i++) {
        if (!workers[i].started)
            continue;
        atomic_store(&workers[i].phase, RELAY_STOP);
        relay_loop_wake(workers[i].loop);
        pthread_join(workers[i].thread, NULL);
    }
    if (admin != NULL)
        relay_admin_stop(admin);
    if (http != NULL)
        relay_http_stop(http);
    relay_feed_free(feed);
    if (link != NULL)
        relay_link_free(link);
    relay_audit_close(audit);
    if (listen_fd >= 0)
        close(listen_fd);
    if (sg.fd >= 0)
        close(sg.fd);
    for (unsigned i = 0; loops != NULL && i < o.threads; i++)
        relay_loop_free(loops[i]);
    free(loops);
    free(workers);
    if (pidfile_written)
        unlink(o.pidfile);
    if (rc == 0)
        relay_log(RELAY_LOG_INFO, "stopped");
    return rc;
}
