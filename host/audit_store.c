/* See audit_store.h. */
#include "audit_store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bearssl.h>
#include <sello/abi.h>
#include <sello/status.h>

#include "log.h"

#define RELAY_AUDIT_HDR SELLO_AUDIT_HEADER_LEN
#define RELAY_AUDIT_RECORD_MAX (SELLO_AUDIT_HEADER_LEN + 0xffffu)
/* Reading the log at start-up: large sequential reads. */
#define RELAY_AUDIT_SCAN_BUF (1024u * 1024u)
_Static_assert(RELAY_AUDIT_SCAN_BUF >= RELAY_AUDIT_RECORD_MAX,
               "a record fits the scan buffer");
/* The most recent records' numbers and hashes, to recognise a record the
 * log already has (an AUDIT_READ answer overlaps the answers it
 * overtook). The module's buffer (4 KiB) holds far fewer. */
#define RELAY_AUDIT_RING 256u
/* Records held while an AUDIT_READ is out; beyond this, an answer is
 * withheld (its records stay in the module, and the read fetches them). */
#define RELAY_AUDIT_HELD_MAX (1024u * 1024u)
/* Records whose remarks (gaps, restarts) are not repeated. */
#define RELAY_AUDIT_SAID 8u

enum relay_read_state {
    RELAY_READ_IDLE,
    RELAY_READ_WANTED, /* to be sent when the link takes it */
    RELAY_READ_OUT,
};

/* Calls waiting here, oldest first, chained through link_next (the link
 * is done with a call once it hands it to its sink). */
struct relay_call_list {
    struct relay_call *head, *tail;
};

struct relay_audit_seen {
    uint64_t seq;
    uint8_t hash[32];
};

/* How a record relates to the log. */
enum relay_rec_fit {
    RELAY_REC_NEXT,    /* the next one: last + 1, or a RESTART */
    RELAY_REC_DUP,     /* the log has it (same number, same hash) */
    RELAY_REC_GAP,     /* records are missing before it */
    RELAY_REC_DIVERGE, /* numbered at or below the last one, but not one
                          the log has: the module's chain is another */
};

struct relay_audit {
    char *path;
    int fd;
    bool regular; /* a regular file: read back, locked, cut back */
    bool broken;  /* a failed append could not be cut back: no more */
    bool reread;  /* a failed append left the log empty: records that
                     arrive are read back from the start, not taken as
                     its beginning */
    unsigned timeout_ms;
    struct relay_link *link; /* known once it first came up */

    /* What is durable in the file. */
    uint64_t dur_size;
    bool dur_any;
    uint64_t dur_seq;
    uint8_t dur_hash[32];
    uint64_t log_records;
    /* The chain's end including this turn's batch. */
    bool tail_any;
    uint64_t tail_seq;
    uint8_t tail_hash[32];
    struct relay_audit_seen ring[RELAY_AUDIT_RING];
    unsigned ring_next, ring_n;

    /* This turn's records and the calls that wait for them. */
    uint8_t *batch;
    size_t batch_len, batch_cap;
    uint64_t batch_records;
    struct relay_call_list batch_calls;

    /* Held while an AUDIT_READ is wanted or out. */
    uint8_t *held;
    size_t held_len, held_cap;
    struct relay_call_list held_calls;

    enum relay_read_state read_state;
    bool read_resync; /* read everything the module holds (from 0) */
    uint64_t reads_done;
    struct relay_call read_call;
    uint8_t read_req[8];
    uint8_t *read_resp;

    /* Acknowledgement: only once the module's records are known to be the
     * log's chain on this connection (ack_ok), one at a time. */
    bool ack_ok;
    bool ack_out;
    bool acked; /* acked_seq was acknowledged on this connection */
    uint64_t acked_seq;
    struct relay_call ack_call;
    uint8_t ack_req[8];
    uint8_t *ack_resp;

    /* The records whose remarks were logged last (relay_audit_said()). */
    uint64_t said[RELAY_AUDIT_SAID];
    unsigned said_next, said_n;

    /* Failures, logged once until the next success. */
    bool failing;
    uint64_t failures;
    uint64_t withheld; /* answers withheld by failed batches */
    uint64_t stored;

    pthread_mutex_t mu; /* guards rep */
    struct relay_audit_report rep;
};

/* ---- helpers ------------------------------------------------------------ */

static void relay_list_push(struct relay_call_list *l, struct relay_call *c)
{
    c->link_next = NULL;
    if (l->tail != NULL)
        l->tail->link_next = c;
    else
        l->head = c;
    l->tail = c;
}

static void relay_list_append(struct relay_call_list *to,
                              struct relay_call_list *from)
{
    if (from->head == NULL)
        return;
    if (to->tail != NULL)
        to->tail->link_next = from->head;
    else
        to->head = from->head;
    to->tail = from->tail;
    from->head = from->tail = NULL;
}

/* Completes every call of `l` (OK: released as answered; otherwise failed
 * with `r`). Returns how many. */
static unsigned relay_list_complete(struct relay_call_list *l,
                                    enum relay_call_result r)
{
    unsigned n = 0;
    struct relay_call *c = l->head;
    l->head = l->tail = NULL;
    while (c != NULL) {
        struct relay_call *next = c->link_next;
        if (r != RELAY_CALL_OK) {
            c->result = r;
            c->resp_len = 0;
        }
        c->done(c);
        c = next;
        n++;
    }
    return n;
}

static bool relay_buf_add(uint8_t **buf, size_t *len, size_t *cap,
                          const uint8_t *p, size_t n)
{
    if (*cap - *len < n) {
        size_t want = *cap ? *cap : 16384;
        while (want - *len < n)
            want *= 2;
        uint8_t *b = realloc(*buf, want);
        if (b == NULL)
            return false;
        *buf = b;
        *cap = want;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
    return true;
}

static void relay_sha256(const uint8_t *p, size_t n, uint8_t out[32])
{
    br_sha256_context h;
    br_sha256_init(&h);
    br_sha256_update(&h, p, n);
    br_sha256_out(&h, out);
}

static uint64_t relay_rec_seq(const uint8_t *r)
{
    return sello_get_be64(r + 4);
}

static size_t relay_rec_len(const uint8_t *r)
{
    return RELAY_AUDIT_HDR + sello_get_be16(r + 2);
}

/* True when p[0..n) is whole records of the format this relay knows. */
static bool relay_records_ok(const uint8_t *p, size_t n)
{
    size_t off = 0;
    while (off < n) {
        if (n - off < RELAY_AUDIT_HDR || p[off] != SELLO_AUDIT_FORMAT ||
            n - off < relay_rec_len(p + off))
            return false;
        off += relay_rec_len(p + off);
    }
    return true;
}

static void relay_hex(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static void relay_ring_add(struct relay_audit *a, uint64_t seq,
                           const uint8_t hash[32])
{
    struct relay_audit_seen *e = &a->ring[a->ring_next];
    e->seq = seq;
    memcpy(e->hash, hash, 32);
    a->ring_next = (a->ring_next + 1) % RELAY_AUDIT_RING;
    if (a->ring_n < RELAY_AUDIT_RING)
        a->ring_n++;
}

/* The hash the log has for `seq` among recent records, or NULL. After a
 * divergence a number may occur twice: the newest wins. */
static const uint8_t *relay_ring_find(const struct relay_audit *a,
                                      uint64_t seq)
{
    for (unsigned i = 1; i <= a->ring_n; i++) {
        const struct relay_audit_seen *e =
            &a->ring[(a->ring_next + RELAY_AUDIT_RING - i) %
                     RELAY_AUDIT_RING];
        if (e->seq == seq)
            return e->hash;
    }
    return NULL;
}

/* The chain's end goes back to what is durable. */
static void relay_audit_rewind(struct relay_audit *a)
{
    a->tail_any = a->dur_any;
    a->tail_seq = a->dur_seq;
    memcpy(a->tail_hash, a->dur_hash, 32);
    a->ring_n = 0;
    a->ring_next = 0;
    if (a->dur_any)
        relay_ring_add(a, a->dur_seq, a->dur_hash);
}

static void relay_audit_report_update(struct relay_audit *a)
{
    pthread_mutex_lock(&a->mu);
    a->rep.any = a->dur_any;
    a->rep.last_seq = a->dur_seq;
    memcpy(a->rep.last_hash, a->dur_hash, 32);
    a->rep.log_records = a->log_records;
    a->rep.stored = a->stored;
    a->rep.failures = a->failures;
    a->rep.failing = a->failing || a->broken;
    a->rep.catching_up = a->read_state != RELAY_READ_IDLE;
    a->rep.acked_seq = a->acked ? a->acked_seq : 0;
    pthread_mutex_unlock(&a->mu);
}

/* ---- the chain ---------------------------------------------------------- */

/* While appends fail, the same records come round again every turn: what
 * a record says about the chain is said once, then at debug. A record is
 * known by its number and the first octets of its hash. Returns true when
 * `r` was the last record to speak. */
static bool relay_audit_said(struct relay_audit *a, const uint8_t *r,
                             const uint8_t hash[32])
{
    uint64_t key = relay_rec_seq(r) ^ ((uint64_t)sello_get_be32(hash) << 32);
    for (unsigned i = 0; i < a->said_n; i++)
        if (a->said[i] == key)
            return true;
    a->said[a->said_next] = key;
    a->said_next = (a->said_next + 1) % RELAY_AUDIT_SAID;
    if (a->said_n < RELAY_AUDIT_SAID)
        a->said_n++;
    return false;
}

static enum relay_log_level relay_level(bool said, enum relay_log_level l)
{
    return said ? RELAY_LOG_DEBUG : l;
}

/* `reading`: the record comes from an AUDIT_READ answer (or is merged
 * with one), so it cannot be read back any further. */
static enum relay_rec_fit relay_rec_classify(const struct relay_audit *a,
                                             const uint8_t *r,
                                             const uint8_t hash[32],
                                             bool reading)
{
    uint64_t seq = relay_rec_seq(r);
    /* An empty log begins with what the module holds (read back), never
     * with whatever answer happens to come first: a log begins at a
     * RESTART. */
    if (!a->tail_any) {
        if (reading)
            return RELAY_REC_NEXT;
        return a->reread || r[1] != SELLO_AUDIT_RESTART ? RELAY_REC_GAP
                                                        : RELAY_REC_NEXT;
    }
    if (seq == a->tail_seq + 1)
        return RELAY_REC_NEXT;
    if (seq <= a->tail_seq) {
        const uint8_t *have = relay_ring_find(a, seq);
        if (have != NULL && memcmp(have, hash, 32) == 0)
            return RELAY_REC_DUP;
        return r[1] == SELLO_AUDIT_RESTART ? RELAY_REC_NEXT
                                           : RELAY_REC_DIVERGE;
    }
    return r[1] == SELLO_AUDIT_RESTART ? RELAY_REC_NEXT : RELAY_REC_GAP;
}

/* What a RESTART record says about the log, said in the log. */
static void relay_note_restart(struct relay_audit *a, const uint8_t *r,
                               bool said)
{
    uint64_t seq = relay_rec_seq(r);
    size_t body = relay_rec_len(r) - RELAY_AUDIT_HDR;
    if (body < 8) {
        relay_log(relay_level(said, RELAY_LOG_WARN),
                  "audit: RESTART record %llu has no saved sequence number",
                  (unsigned long long)seq);
        return;
    }
    uint64_t saved = sello_get_be64(r + RELAY_AUDIT_HDR);
    if (body >= 9 && (r[RELAY_AUDIT_HDR + 8] & 1))
        relay_log(relay_level(said, RELAY_LOG_WARN),
                  "audit: RESTART record %llu: the module reports that its "
                  "records were rolled back",
                  (unsigned long long)seq);
    if (a->tail_any && seq <= a->tail_seq) {
        relay_log(relay_level(said, RELAY_LOG_ERROR),
                  "audit: RESTART record %llu is numbered at or below the "
                  "last stored record %llu: the module was reset or its "
                  "state rolled back; the log goes on with its new chain",
                  (unsigned long long)seq, (unsigned long long)a->tail_seq);
        return;
    }
    if (saved == 0) {
        relay_log(relay_level(said, RELAY_LOG_INFO),
                  "audit: RESTART record %llu: the module starts a chain "
                  "with no saved checkpoint",
                  (unsigned long long)seq);
        return;
    }
    if (a->tail_any && saved > a->tail_seq) {
        relay_log(relay_level(said, RELAY_LOG_ERROR),
                  "audit: records %llu..%llu, made before the module "
                  "restarted, are missing from the log (acknowledged to "
                  "another host, or never received); `sello audit verify` "
                  "will report the gap",
                  (unsigned long long)a->tail_seq + 1,
                  (unsigned long long)saved);
        return;
    }
    const uint8_t *cp = relay_ring_find(a, saved);
    if (cp != NULL && memcmp(cp, r + 20, 32) != 0)
        relay_log(relay_level(said, RELAY_LOG_ERROR),
                  "audit: RESTART record %llu does not link to the stored "
                  "record %llu it names as its checkpoint",
                  (unsigned long long)seq, (unsigned long long)saved);
    else
        relay_log(relay_level(said, RELAY_LOG_INFO),
                  "audit: the module restarted: RESTART record %llu "
                  "continues from checkpoint %llu%s",
                  (unsigned long long)seq, (unsigned long long)saved,
                  cp != NULL ? ", which the log holds" : "");
}

/* Adds a record to this turn's batch. Returns false when out of memory
 * (logged; the record is not taken). */
static bool relay_audit_append(struct relay_audit *a, const uint8_t *r,
                               const uint8_t hash[32])
{
    uint64_t seq = relay_rec_seq(r);
    if (r[1] == SELLO_AUDIT_RESTART) {
        relay_note_restart(a, r, relay_audit_said(a, r, hash));
    } else if (a->tail_any && seq == a->tail_seq + 1 &&
               memcmp(r + 20, a->tail_hash, 32) != 0) {
        bool said = relay_audit_said(a, r, hash);
        relay_log(relay_level(said, RELAY_LOG_ERROR),
                  "audit: record %llu does not link to the stored record "
                  "%llu (its previous-hash differs): the module's chain is "
                  "not the log's",
                  (unsigned long long)seq, (unsigned long long)a->tail_seq);
    }
    if (!relay_buf_add(&a->batch, &a->batch_len, &a->batch_cap, r,
                       relay_rec_len(r))) {
        relay_log(RELAY_LOG_ERROR, "audit: out of memory for a record");
        return false;
    }
    a->batch_records++;
    a->tail_any = true;
    a->tail_seq = seq;
    memcpy(a->tail_hash, hash, 32);
    relay_ring_add(a, seq, hash);
    a->ack_ok = true;
    return true;
}

/* Keeps records (and the call that brought them) until the AUDIT_READ is
 * answered. */
static void relay_audit_hold(struct relay_audit *a, const uint8_t *p,
                             size_t n, struct relay_call *call)
{
    if (a->held_len + n > RELAY_AUDIT_HELD_MAX ||
        !relay_buf_add(&a->held, &a->held_len, &a->held_cap, p, n)) {
        relay_log(RELAY_LOG_ERROR,
                  "audit: no room to hold %zu octets of records while "
                  "catching up: the answer is withheld (the module keeps "
                  "the records)",
                  n);
        if (call != NULL) {
            call->result = RELAY_CALL_AUDIT_FAILED;
            call->resp_len = 0;
            call->done(call);
        }
        return;
    }
    if (call != NULL)
        relay_list_push(&a->held_calls, call);
}

static void relay_audit_read_done(struct relay_call *call);

/* Sends the wanted AUDIT_READ if the link takes it. */
static void relay_audit_send_read(struct relay_audit *a)
{
    if (a->read_state != RELAY_READ_WANTED || a->link == NULL)
        return;
    uint64_t from = a->read_resync || !a->dur_any ? 0 : a->dur_seq;
    sello_put_be64(a->read_req, from);
    a->read_call = (struct relay_call){
        .op = SELLO_OP_AUDIT_READ,
        .req_len = sizeof a->read_req,
        .req = a->read_req,
        .resp = a->read_resp,
        .timeout_ms = a->timeout_ms,
        .done = relay_audit_read_done,
    };
    enum relay_call_result r = relay_link_submit(a->link, &a->read_call);
    if (r != RELAY_CALL_OK) {
        relay_log(RELAY_LOG_DEBUG, "audit: AUDIT_READ not sent yet: %s",
                  relay_call_result_str(r));
        return;
    }
    relay_log(RELAY_LOG_DEBUG, "audit: AUDIT_READ from %llu",
              (unsigned long long)from);
    a->read_state = RELAY_READ_OUT;
    relay_audit_report_update(a);
}

/* A record that does not follow the log arrived with an answer. */
static void relay_audit_want_read(struct relay_audit *a, const uint8_t *r,
                                  bool resync)
{
    uint64_t seq = relay_rec_seq(r);
    enum relay_log_level level =
        a->failing ? RELAY_LOG_DEBUG : RELAY_LOG_WARN;
    if (!a->tail_any)
        relay_log(level,
                  "audit: record %llu arrived after a failed append left "
                  "the log empty: reading what the module holds "
                  "(AUDIT_READ) before storing it",
                  (unsigned long long)seq);
    else if (resync)
        relay_log(level,
                  "audit: record %llu arrived, numbered at or below the "
                  "last stored record %llu but not the one the log has: "
                  "reading everything the module holds (AUDIT_READ)",
                  (unsigned long long)seq, (unsigned long long)a->tail_seq);
    else
        relay_log(level,
                  "audit: record %llu arrived after stored record %llu: "
                  "reading the missing ones from the module (AUDIT_READ) "
                  "before storing it",
                  (unsigned long long)seq, (unsigned long long)a->tail_seq);
    a->read_resync |= resync;
    if (a->read_state == RELAY_READ_IDLE)
        a->read_state = RELAY_READ_WANTED;
    relay_audit_report_update(a);
    relay_audit_send_read(a);
}

/*
 * Records that came with an answer: the next ones go into the batch; from
 * the first that does not follow, they are held with the answer, and an
 * AUDIT_READ is wanted. `call` (NULL: nobody waits, or the store's own)
 * then waits for the batch or for the read.
 */
static void relay_audit_take(struct relay_audit *a, const uint8_t *p,
                             size_t n, struct relay_call *call)
{
    if (a->read_state != RELAY_READ_IDLE || a->held_len > 0) {
        relay_audit_hold(a, p, n, call);
        return;
    }
    size_t off = 0;
    while (off < n) {
        const uint8_t *r = p + off;
        size_t rl = relay_rec_len(r);
        uint8_t hash[32];
        relay_sha256(r, rl, hash);
        enum relay_rec_fit fit = relay_rec_classify(a, r, hash, false);
        if (fit == RELAY_REC_GAP || fit == RELAY_REC_DIVERGE) {
            relay_audit_hold(a, r, n - off, call);
            relay_audit_want_read(a, r, fit == RELAY_REC_DIVERGE);
            return;
        }
        if (fit == RELAY_REC_NEXT && !relay_audit_append(a, r, hash)) {
            if (call != NULL) {
                call->result = RELAY_CALL_AUDIT_FAILED;
                call->resp_len = 0;
                call->done(call);
            }
            return;
        }
        off += rl;
    }
    if (call != NULL)
        relay_list_push(&a->batch_calls, call);
}

/*
 * The AUDIT_READ's answer `p`[0..n) and the held records, merged in
 * sequence order (either may have what the other lacks: the answer what
 * the log missed, the held records what the module no longer has). A gap
 * that remains is a loss: named, and stored past.
 */
static void relay_audit_merge(struct relay_audit *a, const uint8_t *p,
                              size_t n)
{
    size_t i = 0, j = 0;
    uint64_t fresh = 0, first = 0, last = 0;
    while (i < n || j < a->held_len) {
        const uint8_t *r;
        if (j >= a->held_len ||
            (i < n && relay_rec_seq(p + i) <= relay_rec_seq(a->held + j))) {
            r = p + i;
            i += relay_rec_len(r);
        } else {
            r = a->held + j;
            j += relay_rec_len(r);
        }
        uint8_t hash[32];
        relay_sha256(r, relay_rec_len(r), hash);
        uint64_t seq = relay_rec_seq(r);
        enum relay_rec_fit fit = relay_rec_classify(a, r, hash, true);
        bool said = fit != RELAY_REC_DUP && fit != RELAY_REC_NEXT &&
                    relay_audit_said(a, r, hash);
        switch (fit) {
        case RELAY_REC_DUP:
            /* The module's record is the log's: its chain is ours. */
            a->ack_ok = true;
            continue;
        case RELAY_REC_GAP:
            relay_log(relay_level(said, RELAY_LOG_ERROR),
                      "audit: records %llu..%llu are missing from the log: "
                      "the module no longer holds them (acknowledged to "
                      "another host, or lost when it restarted); storing "
                      "from %llu on, `sello audit verify` will report the "
                      "gap",
                      (unsigned long long)a->tail_seq + 1,
                      (unsigned long long)seq - 1, (unsigned long long)seq);
            break;
        case RELAY_REC_DIVERGE:
            relay_log(relay_level(said, RELAY_LOG_ERROR),
                      "audit: the module's record %llu is not the one the "
                      "log has (the log ends at %llu): the module was reset "
                      "or its records rolled back; the log goes on with "
                      "the module's chain",
                      (unsigned long long)seq,
                      (unsigned long long)a->tail_seq);
            break;
        case RELAY_REC_NEXT:
            break;
        }
        if (!relay_audit_append(a, r, hash))
            break; /* out of memory: the read will be needed again */
        if (fresh++ == 0)
            first = seq;
        last = seq;
    }
    enum relay_log_level level =
        a->failing ? RELAY_LOG_DEBUG : RELAY_LOG_INFO;
    if (fresh > 0)
        relay_log(level,
                  "audit: caught up with the module: %llu record(s), %llu.."
                  "%llu, to be stored",
                  (unsigned long long)fresh, (unsigned long long)first,
                  (unsigned long long)last);
    else
        relay_log(RELAY_LOG_DEBUG,
                  "audit: the module holds nothing the log lacks (log ends "
                  "at %llu)",
                  (unsigned long long)a->tail_seq);
}

/* Link's loop: the AUDIT_READ was answered, or failed. */
static void relay_audit_read_done(struct relay_call *call)
{
    struct relay_audit *a =
        (struct relay_audit *)((char *)call -
                               offsetof(struct relay_audit, read_call));
    a->read_state = RELAY_READ_IDLE;
    if (call->result != RELAY_CALL_OK) {
        /* The held records stay (the module may have lost its copies by
         * the time it is asked again); their answers do not wait. */
        unsigned n = relay_list_complete(&a->held_calls, call->result);
        /* A link that went down has said so already. */
        relay_log(n == 0 && a->held_len == 0 &&
                          call->result == RELAY_CALL_LINK_DOWN
                      ? RELAY_LOG_DEBUG
                      : RELAY_LOG_WARN,
                  "audit: AUDIT_READ failed: %s; %u answer(s) withheld, "
                  "asking again when the module can be reached",
                  relay_call_result_str(call->result), n);
        a->read_state = RELAY_READ_WANTED;
        relay_audit_report_update(a);
        return;
    }
    const uint8_t *p = call->resp;
    size_t n = call->resp_len;
    if (call->code != SELLO_OK) {
        relay_log(RELAY_LOG_ERROR,
                  "audit: the module refused AUDIT_READ: %s (%.*s); storing "
                  "the records at hand",
                  sello_status_name(call->code), (int)(n < 160 ? n : 160),
                  (const char *)p);
        n = 0;
    } else if (!relay_records_ok(p, n)) {
        relay_log(RELAY_LOG_ERROR,
                  "audit: the module's AUDIT_READ answer is not whole "
                  "records (%zu octets); storing the records at hand",
                  n);
        n = 0;
    }
    relay_audit_merge(a, p, n);
    a->held_len = 0;
    a->read_resync = false;
    a->reread = false;
    relay_list_append(&a->batch_calls, &a->held_calls);
    a->reads_done++;
    relay_audit_report_update(a);
}

static void relay_audit_ack_done(struct relay_call *call)
{
    struct relay_audit *a =
        (struct relay_audit *)((char *)call -
                               offsetof(struct relay_audit, ack_call));
    a->ack_out = false;
    if (call->result != RELAY_CALL_OK || call->code != SELLO_OK) {
        relay_log(call->result == RELAY_CALL_LINK_DOWN ? RELAY_LOG_DEBUG
                                                       : RELAY_LOG_WARN,
                  "audit: AUDIT_ACK %llu failed: %s%s%.*s",
                  (unsigned long long)a->acked_seq,
                  call->result != RELAY_CALL_OK
                      ? relay_call_result_str(call->result)
                      : sello_status_name(call->code),
                  call->result == RELAY_CALL_OK ? ": " : "",
                  call->result == RELAY_CALL_OK
                      ? (int)(call->resp_len < 160 ? call->resp_len : 160)
                      : 0,
                  (const char *)call->resp);
        a->acked = false; /* sent again after the next commit */
    }
}

/* ---- the sink ----------------------------------------------------------- */

static void relay_audit_frame(void *arg, struct relay_call *call,
                              const sello_frame_header *h,
                              const uint8_t *payload)
{
    struct relay_audit *a = arg;
    const uint8_t *op = payload, *recs = NULL;
    uint32_t op_len = h->length;
    size_t n = 0;
    if (h->flags & SELLO_RESP_FLAG_AUDIT) {
        bool ok = h->length >= 2;
        if (ok) {
            n = sello_get_be16(payload);
            ok = h->length - 2 >= n && relay_records_ok(payload + 2, n);
        }
        if (!ok) {
            char opbuf[8];
            relay_log(RELAY_LOG_ERROR,
                      "audit: the module's answer to %s carries malformed "
                      "audit records: withheld",
                      call != NULL ? relay_op_name(call->op, opbuf)
                                   : "a call nobody waits for");
            if (call != NULL) {
                call->result = RELAY_CALL_AUDIT_FAILED;
                call->resp_len = 0;
                call->done(call);
            }
            return;
        }
        recs = payload + 2;
        op = payload + 2 + n;
        op_len = h->length - 2 - (uint32_t)n;
    }
    if (call != NULL) {
        memcpy(call->resp, op, op_len);
        call->resp_len = op_len;
        call->code = h->code;
        call->flags = (uint8_t)(h->flags & ~SELLO_RESP_FLAG_AUDIT);
        call->result = RELAY_CALL_OK;
    }
    /* The store's own calls complete at once; their records (none are
     * expected) are taken first. */
    bool own = call == &a->read_call || call == &a->ack_call;
    if (n > 0)
        relay_audit_take(a, recs, n, own ? NULL : call);
    if (call != NULL && (n == 0 || own))
        call->done(call);
}

static void relay_audit_up(void *arg, struct relay_link *link)
{
    struct relay_audit *a = arg;
    a->link = link;
    /* Perhaps another module, or the same one restarted: nothing may be
     * acknowledged on this connection before its records are seen. */
    a->ack_ok = false;
    a->acked = false;
    /* The connection's first frame: what the module holds from the last
     * stored record on. */
    if (a->read_state != RELAY_READ_OUT) {
        a->read_state = RELAY_READ_WANTED;
        relay_audit_send_read(a);
    }
}

void relay_audit_sink(struct relay_audit *a, struct relay_link_sink *out)
{
    *out = (struct relay_link_sink){
        .frame = relay_audit_frame,
        .up = relay_audit_up,
        .arg = a,
    };
}

/* ---- committing --------------------------------------------------------- */

/* Appends the batch and makes it durable. Returns 0, or an errno value
 * with *what naming the step. */
static int relay_audit_write(struct relay_audit *a, const char **what)
{
    if (a->broken) {
        *what = "earlier failure";
        return EIO;
    }
    size_t off = 0;
    while (off < a->batch_len) {
        ssize_t n = write(a->fd, a->batch + off, a->batch_len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            *what = "write";
            return n < 0 ? errno : EIO;
        }
        off += (size_t)n;
    }
    if (fdatasync(a->fd) != 0) {
        *what = "fdatasync";
        return errno;
    }
    return 0;
}

static void relay_audit_commit(struct relay_audit *a)
{
    const char *what = "";
    int err = relay_audit_write(a, &what);
    if (err == 0) {
        if (a->failing)
            relay_log(RELAY_LOG_INFO,
                      "audit log %s: writing works again; %llu record(s) "
                      "stored",
                      a->path, (unsigned long long)a->batch_records);
        a->failing = false;
        if (!a->dur_any && a->tail_any) {
            /* The first record of the log: say where the chain starts. */
            relay_log(RELAY_LOG_INFO, "audit log %s: begins at record %llu",
                      a->path,
                      (unsigned long long)relay_rec_seq(a->batch));
        }
        a->dur_size += a->batch_len;
        a->dur_any = a->tail_any;
        a->dur_seq = a->tail_seq;
        memcpy(a->dur_hash, a->tail_hash, 32);
        a->stored += a->batch_records;
        a->log_records += a->batch_records;
        a->batch_len = 0;
        a->batch_records = 0;
        relay_audit_report_update(a);
        relay_list_complete(&a->batch_calls, RELAY_CALL_OK);
        return;
    }
    /* Whatever part of the batch reached the file goes again: the records
     * stay in the module, and are fetched again. */
    if (a->regular && !a->broken &&
        ftruncate(a->fd, (off_t)a->dur_size) != 0) {
        relay_log(RELAY_LOG_ERROR,
                  "audit log %s: cannot cut it back to %llu octets after a "
                  "failed append (%s): no more records are stored; restart "
                  "the relay once the file is fixed",
                  a->path, (unsigned long long)a->dur_size, strerror(errno));
        a->broken = true;
    }
    uint64_t records = a->batch_records;
    a->batch_len = 0;
    a->batch_records = 0;
    relay_audit_rewind(a);
    a->reread = !a->dur_any;
    /* Nothing new is known to be stored: no acknowledgement until a
     * commit succeeds (after a divergence the old number would make the
     * module drop records the log does not have). */
    a->ack_ok = false;
    a->failures++;
    unsigned n = relay_list_complete(&a->batch_calls, RELAY_CALL_AUDIT_FAILED);
    a->withheld += n;
    relay_log(a->failing ? RELAY_LOG_DEBUG : RELAY_LOG_ERROR,
              "audit log %s: %s failed: %s; %llu record(s) not stored, %u "
              "answer(s) withheld (HTTP 500), nothing acknowledged: the "
              "module keeps the records and stops issuing when its buffer "
              "is full%s",
              a->path, what, strerror(err), (unsigned long long)records, n,
              a->failing ? "" : " (further failures are logged at debug)");
    a->failing = true;
    relay_audit_report_update(a);
}

static void relay_audit_send_ack(struct relay_audit *a)
{
    if (a->ack_out || !a->ack_ok || !a->dur_any || a->link == NULL ||
        (a->acked && a->acked_seq == a->dur_seq))
        return;
    sello_put_be64(a->ack_req, a->dur_seq);
    a->ack_call = (struct relay_call){
        .op = SELLO_OP_AUDIT_ACK,
        .req_len = sizeof a->ack_req,
        .req = a->ack_req,
        .resp = a->ack_resp,
        .timeout_ms = a->timeout_ms,
        .done = relay_audit_ack_done,
    };
    if (relay_link_submit(a->link, &a->ack_call) != RELAY_CALL_OK)
        return; /* the next turn, or the next connection */
    a->ack_out = true;
    a->acked = true;
    a->acked_seq = a->dur_seq;
    relay_audit_report_update(a);
}

void relay_audit_run(struct relay_audit *a)
{
    if (a->batch_len > 0)
        relay_audit_commit(a);
    else if (a->batch_calls.head != NULL)
        relay_list_complete(&a->batch_calls, RELAY_CALL_OK);
    relay_audit_send_ack(a);
    if (a->link != NULL && relay_link_is_up(a->link))
        relay_audit_send_read(a);
}

bool relay_audit_busy(struct relay_audit *a)
{
    return a->batch_calls.head != NULL || a->held_calls.head != NULL ||
           a->batch_len > 0;
}

bool relay_audit_catch_up(struct relay_audit *a, struct relay_loop *loop,
                          struct relay_link *link, unsigned timeout_ms)
{
    if (!relay_link_is_up(link)) {
        relay_log(RELAY_LOG_WARN,
                  "audit: the module cannot be reached yet: the log "
                  "catches up with it when it can");
        return false;
    }
    uint64_t target = a->reads_done + 1;
    uint64_t until = relay_now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        relay_link_flush(link);
        uint64_t now = relay_now_ns();
        if (a->reads_done >= target || now >= until)
            break;
        int t = relay_timeout_min(relay_link_timeout_ms(link, now),
                                  relay_timeout_until(now, until));
        relay_loop_turn(loop, t);
        relay_link_run(link, relay_now_ns());
        relay_audit_run(a);
    }
    if (a->reads_done < target) {
        relay_log(RELAY_LOG_WARN,
                  "audit: the module did not answer the start-up "
                  "AUDIT_READ: serving, and catching up when it does");
        return false;
    }
    if (a->failing) {
        relay_log(RELAY_LOG_ERROR,
                  "audit log %s: the records the module holds could not be "
                  "stored: serving, but no token is released until they "
                  "can be",
                  a->path);
        return false;
    }
    if (!a->dur_any) {
        relay_log(RELAY_LOG_INFO,
                  "audit log %s: caught up with the module, which holds no "
                  "records: the log is still empty",
                  a->path);
        return true;
    }
    char hex[65];
    relay_hex(a->dur_hash, 32, hex);
    relay_log(RELAY_LOG_INFO,
              "audit log %s: caught up with the module: %llu record(s) "
              "stored at start-up; the last record %llu, SHA-256 %s",
              a->path, (unsigned long long)a->stored,
              (unsigned long long)a->dur_seq, hex);
    return true;
}

/* ---- opening ------------------------------------------------------------ */

/* Makes a newly created file's directory entry durable. */
static void relay_sync_parent(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0)
        relay_log(RELAY_LOG_WARN, "audit log: cannot sync directory %s: %s",
                  dir, strerror(errno));
    if (fd >= 0)
        close(fd);
}

static bool relay_all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return false;
    return true;
}

/*
 * Reads the log through: the last complete record's number and hash, the
 * number of records, and where they end. What follows the last record
 * must be a record cut short (or zeros an interrupted append left): it is
 * cut off. Returns false after logging why the file is not usable.
 */
static bool relay_audit_load(struct relay_audit *a, uint64_t size)
{
    uint8_t *buf = malloc(RELAY_AUDIT_SCAN_BUF);
    if (buf == NULL) {
        relay_log(RELAY_LOG_ERROR, "out of memory to read the audit log");
        return false;
    }
    uint64_t pos = 0; /* file offset of buf[0] */
    size_t have = 0;
    uint64_t last_off = 0, count = 0;
    size_t last_len = 0;
    bool bad = false, eof = false;
    while (!bad) {
        if (!eof && have < RELAY_AUDIT_SCAN_BUF) {
            ssize_t n = pread(a->fd, buf + have, RELAY_AUDIT_SCAN_BUF - have,
                              (off_t)(pos + have));
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                relay_log(RELAY_LOG_ERROR, "cannot read the audit log %s: %s",
                          a->path, strerror(errno));
                free(buf);
                return false;
            }
            if (n == 0)
                eof = true;
            have += (size_t)n;
        }
        size_t off = 0;
        while (have - off >= RELAY_AUDIT_HDR) {
            if (buf[off] != SELLO_AUDIT_FORMAT) {
                bad = true;
                break;
            }
            size_t rl = relay_rec_len(buf + off);
            if (have - off < rl)
                break;
            last_off = pos + off;
            last_len = rl;
            count++;
            off += rl;
        }
        if (have - off > 0 && have - off < RELAY_AUDIT_HDR &&
            buf[off] != SELLO_AUDIT_FORMAT)
            bad = true;
        memmove(buf, buf + off, have - off);
        pos += off;
        have -= off;
        if (eof && !bad)
            break;
    }
    /* [pos, size) follows the last complete record. */
    uint64_t rest = size > pos ? size - pos : 0;
    if (rest > 0 && bad) {
        /* Not a record: acceptable only as zeros, the trace some file
         * systems leave of an append that did not complete. */
        bool zeros = true;
        for (uint64_t at = pos; zeros && at < size;) {
            ssize_t n = pread(a->fd, buf, RELAY_AUDIT_SCAN_BUF, (off_t)at);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            zeros = relay_all_zero(buf, (size_t)n);
            at += (uint64_t)n;
        }
        if (!zeros) {
            relay_log(RELAY_LOG_ERROR,
                      "audit log %s: the octets at offset %llu are not an "
                      "audit record (format octet 0x%02x): not a Sello audit "
                      "log, or damaged; refusing to append to it",
                      a->path, (unsigned long long)pos, buf[0]);
            free(buf);
            return false;
        }
    }
    if (last_len > 0) {
        ssize_t n = pread(a->fd, buf, last_len, (off_t)last_off);
        if (n != (ssize_t)last_len) {
            relay_log(RELAY_LOG_ERROR, "cannot read the audit log %s: %s",
                      a->path, n < 0 ? strerror(errno) : "short read");
            free(buf);
            return false;
        }
        a->dur_any = true;
        a->dur_seq = relay_rec_seq(buf);
        relay_sha256(buf, last_len, a->dur_hash);
    }
    free(buf);
    a->log_records = count;
    a->dur_size = pos;
    if (rest > 0) {
        if (ftruncate(a->fd, (off_t)pos) != 0 || fsync(a->fd) != 0) {
            relay_log(RELAY_LOG_ERROR,
                      "audit log %s: cannot cut off the incomplete record at "
                      "its end: %s",
                      a->path, strerror(errno));
            return false;
        }
        relay_log(RELAY_LOG_WARN,
                  "audit log %s: cut off %llu octet(s) at offset %llu, a "
                  "record an interrupted append left incomplete (it was "
                  "never acknowledged: the module still holds it unless it "
                  "restarted)",
                  a->path, (unsigned long long)rest, (unsigned long long)pos);
    }
    return true;
}

struct relay_audit *relay_audit_open(const char *path, unsigned timeout_ms)
{
    struct relay_audit *a = calloc(1, sizeof *a);
    if (a == NULL || (a->path = strdup(path)) == NULL ||
        (a->read_resp = malloc(SELLO_PAYLOAD_MAX)) == NULL ||
        (a->ack_resp = malloc(SELLO_PAYLOAD_MAX)) == NULL) {
        relay_log(RELAY_LOG_ERROR, "out of memory for the audit store");
        if (a != NULL) {
            free(a->read_resp);
            free(a->path);
        }
        free(a);
        return NULL;
    }
    a->fd = -1;
    a->timeout_ms = timeout_ms;
    pthread_mutex_init(&a->mu, NULL);
    a->rep.path = a->path;

    /* Non-blocking, so that a FIFO or a device put there cannot stall the
     * loop: a write that cannot be done at once fails like any other. */
    int flags = O_RDWR | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    a->fd = open(path, flags | O_CREAT | O_EXCL, 0600);
    bool created = a->fd >= 0;
    if (a->fd < 0 && errno == EEXIST)
        a->fd = open(path, flags);
    if (a->fd < 0) {
        relay_log(RELAY_LOG_ERROR, "cannot open the audit log %s: %s", path,
                  strerror(errno));
        goto fail;
    }
    if (created)
        relay_sync_parent(path);
    struct stat st;
    if (fstat(a->fd, &st) != 0) {
        relay_log(RELAY_LOG_ERROR, "cannot stat the audit log %s: %s", path,
                  strerror(errno));
        goto fail;
    }
    a->regular = S_ISREG(st.st_mode);
    if (!a->regular) {
        relay_log(RELAY_LOG_WARN,
                  "audit log %s is not a regular file: it cannot be read "
                  "back, so the relay starts as with an empty log",
                  path);
    } else {
        if (flock(a->fd, LOCK_EX | LOCK_NB) != 0) {
            if (errno == EWOULDBLOCK) {
                relay_log(RELAY_LOG_ERROR,
                          "audit log %s is locked by another process: is "
                          "another relay using it?",
                          path);
                goto fail;
            }
            relay_log(RELAY_LOG_WARN,
                      "audit log %s: cannot lock it (%s): make sure no "
                      "other relay appends to it",
                      path, strerror(errno));
        }
        if (st.st_mode & 022)
            relay_log(RELAY_LOG_WARN,
                      "audit log %s is writable by others than its owner "
                      "(mode %03o)",
                      path, (unsigned)(st.st_mode & 0777));
        if (!relay_audit_load(a, (uint64_t)st.st_size))
            goto fail;
    }
    relay_audit_rewind(a);
    relay_audit_report_update(a);
    if (a->dur_any) {
        char hex[65];
        relay_hex(a->dur_hash, 32, hex);
        relay_log(RELAY_LOG_INFO,
                  "audit log %s: %llu record(s), the last %llu (SHA-256 %s)",
                  path, (unsigned long long)a->log_records,
                  (unsigned long long)a->dur_seq, hex);
    } else {
        relay_log(RELAY_LOG_INFO, "audit log %s: %s", path,
                  created ? "created" : "empty");
    }
    return a;
fail:
    if (a->fd >= 0)
        close(a->fd);
    pthread_mutex_destroy(&a->mu);
    free(a->ack_resp);
    free(a->read_resp);
    free(a->path);
    free(a);
    return NULL;
}

/* ---- the rest ----------------------------------------------------------- */

void relay_audit_snapshot(struct relay_audit *a,
                          struct relay_audit_report *out)
{
    pthread_mutex_lock(&a->mu);
    *out = a->rep;
    pthread_mutex_unlock(&a->mu);
}

void relay_audit_stop(struct relay_audit *a)
{
    if (a == NULL)
        return;
    /* What arrived last is stored if it can be; what is still held was
     * not, and its answers are failed. */
    if (a->batch_len > 0 || a->batch_calls.head != NULL)
        relay_audit_run(a);
    relay_list_complete(&a->held_calls, RELAY_CALL_LINK_DOWN);
}

void relay_audit_close(struct relay_audit *a)
{
    if (a == NULL)
        return;
    relay_audit_stop(a);
    char hex[65] = "-";
    if (a->dur_any)
        relay_hex(a->dur_hash, 32, hex);
    relay_log(RELAY_LOG_INFO,
              "audit log %s: %llu record(s) stored since start; %llu "
              "failed batch(es) withheld %llu answer(s); the last record "
              "%llu, SHA-256 %s",
              a->path, (unsigned long long)a->stored,
              (unsigned long long)a->failures,
              (unsigned long long)a->withheld, (unsigned long long)a->dur_seq,
              hex);
    close(a->fd);
    pthread_mutex_destroy(&a->mu);
    free(a->batch);
    free(a->held);
    free(a->ack_resp);
    free(a->read_resp);
    free(a->path);
    free(a);
}
