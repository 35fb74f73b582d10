/*
 * otr-peer: libotr 4.1 as a scriptable OTR peer for otrbnc's tests.
 *
 * One command a line on stdin, one event a line on stdout, TAB-separated fields, text fields
 * escaped (\\ \t \n \r). Every command ends with "ok" or "err\t<reason>". README.md in this
 * directory describes the protocol; tests/libotr_support/mod.rs is the Rust driver.
 *
 * Built by the driver: gcc -O1 -Wall -Wextra -o otr-peer peer.c $(pkg-config --cflags --libs libotr)
 */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gcrypt.h>

/* proto.h first: message.h uses its types without including it. */
#include <libotr/proto.h>
#include <libotr/context.h>
#include <libotr/instag.h>
#include <libotr/message.h>
#include <libotr/privkey.h>
#include <libotr/tlv.h>
#include <libotr/userstate.h>

#define MAX_FIELDS 8

/* ---- the harness clock ---------------------------------------------------------------------
 * libotr reads the time only through time(NULL) (heartbeats: 60 s since we last sent; the
 * poll timer: stale AKE keys). Defining time() here interposes it: libotr.so's reference to
 * time@GLIBC_2.2.5 resolves to the executable's definition, which the linker exports because
 * a linked shared library needs it. `advance` moves this clock; the test `heartbeat` proves
 * the interposition works (libotr sends a heartbeat only after the jump). */
static long long clock_offset;

time_t time(time_t *tloc)
{
    struct timespec ts;
    time_t now;

    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
        ts.tv_sec = 0;
    }
    now = (time_t)(ts.tv_sec + clock_offset);
    if (tloc) {
        *tloc = now;
    }
    return now;
}

/* ---- state ---------------------------------------------------------------------------------- */
static OtrlUserState us;
static const char *account;
static const char *protocol = "irc";
static int max_msg = 400;
static OtrlPolicy policy = OTRL_POLICY_ALLOW_V2 | OTRL_POLICY_ALLOW_V3 |
    OTRL_POLICY_WHITESPACE_START_AKE | OTRL_POLICY_ERROR_START_AKE;
static char *privkey_path, *fingerprints_path, *instag_path;

/* Set by convert_msg when libotr hands us a decrypted data message (recv's enc/plain). */
static int decrypted;

/* timer_control: the interval libotr asked for and when it next fires (harness clock). */
static unsigned int timer_interval;
static time_t timer_due;

/* `instance` choices: which of a correspondent's instances send/smp address. */
struct target {
    struct target *next;
    char *name;
    otrl_instag_t instag;
};
static struct target *targets;

/* ---- output --------------------------------------------------------------------------------- */
static void put_escaped(const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '\\': fputs("\\\\", stdout); break;
        case '\t': fputs("\\t", stdout); break;
        case '\n': fputs("\\n", stdout); break;
        case '\r': fputs("\\r", stdout); break;
        default: putchar(*s); break;
        }
    }
}

/* One event line: KIND then every field (escaped), NULL-terminated list. */
static void emit(const char *kind, ...)
{
    va_list ap;
    const char *field;

    fputs(kind, stdout);
    va_start(ap, kind);
    while ((field = va_arg(ap, const char *)) != NULL) {
        putchar('\t');
        put_escaped(field);
    }
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

/* An IRC client sends a multi-line text as one PRIVMSG a line, and cannot send an empty one
 * (libotr injects "" when a text is refused in the FINISHED state). */
static void emit_out(const char *to, const char *msg)
{
    const char *p = msg;

    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len > 0) {
            char *line = strndup(p, len);
            if (!line) {
                fprintf(stderr, "otr-peer: out of memory\n");
                exit(1);
            }
            emit("out", to, line, (const char *)NULL);
            free(line);
        }
        p += len;
        if (*p == '\n') {
            p++;
        }
    }
}

/* libgcrypt's error text: `pkg-config --libs libotr` links libotr alone, so no
 * gcry_strerror; the code number (gpg-error's GPG_ERR_*) from the header's inline helper. */
static const char *err_text(gcry_error_t err)
{
    static char buf[48];
    snprintf(buf, sizeof buf, "gpg error code %u", (unsigned)gpg_err_code(err));
    return buf;
}

static const char *ctx_name(const ConnContext *context)
{
    return (context && context->username) ? context->username : "";
}

/* ---- files ---------------------------------------------------------------------------------- */
static int file_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static char *join_path(const char *dir, const char *name)
{
    size_t len = strlen(dir) + 1 + strlen(name) + 1;
    char *p = malloc(len);
    if (!p) {
        fprintf(stderr, "otr-peer: out of memory\n");
        exit(1);
    }
    snprintf(p, len, "%s/%s", dir, name);
    return p;
}

static void write_fingerprints_file(void)
{
    gcry_error_t err = otrl_privkey_write_fingerprints(us, fingerprints_path);
    if (err) {
        fprintf(stderr, "otr-peer: writing %s: %s\n", fingerprints_path, err_text(err));
    }
}

static void make_privkey(void)
{
    gcry_error_t err = otrl_privkey_generate(us, privkey_path, account, protocol);
    if (err) {
        fprintf(stderr, "otr-peer: generating a key into %s: %s\n", privkey_path,
                err_text(err));
        exit(1);
    }
}

static void make_instag(void)
{
    gcry_error_t err = otrl_instag_generate(us, instag_path, account, protocol);
    if (err) {
        fprintf(stderr, "otr-peer: generating an instance tag into %s: %s\n", instag_path,
                err_text(err));
        exit(1);
    }
}

/* ---- libotr callbacks ----------------------------------------------------------------------- */
static OtrlPolicy cb_policy(void *opdata, ConnContext *context)
{
    (void)opdata;
    (void)context;
    return policy;
}

static void cb_create_privkey(void *opdata, const char *accountname, const char *proto)
{
    (void)opdata;
    (void)accountname;
    (void)proto;
    make_privkey();
}

static int cb_is_logged_in(void *opdata, const char *accountname, const char *proto,
                           const char *recipient)
{
    (void)opdata;
    (void)accountname;
    (void)proto;
    (void)recipient;
    return 1;
}

static void cb_inject_message(void *opdata, const char *accountname, const char *proto,
                              const char *recipient, const char *message)
{
    (void)opdata;
    (void)accountname;
    (void)proto;
    emit_out(recipient, message);
}

static void cb_new_fingerprint(void *opdata, OtrlUserState ust, const char *accountname,
                               const char *proto, const char *username,
                               unsigned char fingerprint[20])
{
    char human[OTRL_PRIVKEY_FPRINT_HUMAN_LEN];

    (void)opdata;
    (void)ust;
    (void)accountname;
    (void)proto;
    otrl_privkey_hash_to_human(human, fingerprint);
    emit("newfp", username, human, (const char *)NULL);
}

static void cb_write_fingerprints(void *opdata)
{
    (void)opdata;
    write_fingerprints_file();
}

static void cb_gone_secure(void *opdata, ConnContext *context)
{
    char version[16];

    (void)opdata;
    snprintf(version, sizeof version, "%u", context->protocol_version);
    emit("secure", ctx_name(context), version, (const char *)NULL);
}

static void cb_gone_insecure(void *opdata, ConnContext *context)
{
    (void)opdata;
    emit("insecure", ctx_name(context), (const char *)NULL);
}

static void cb_still_secure(void *opdata, ConnContext *context, int is_reply)
{
    (void)opdata;
    (void)is_reply;
    emit("still", ctx_name(context), (const char *)NULL);
}

static int cb_max_message_size(void *opdata, ConnContext *context)
{
    (void)opdata;
    (void)context;
    return max_msg;
}

static const char *errcode_name(OtrlErrorCode code)
{
    switch (code) {
    case OTRL_ERRCODE_NONE: return "NONE";
    case OTRL_ERRCODE_ENCRYPTION_ERROR: return "ENCRYPTION_ERROR";
    case OTRL_ERRCODE_MSG_NOT_IN_PRIVATE: return "MSG_NOT_IN_PRIVATE";
    case OTRL_ERRCODE_MSG_UNREADABLE: return "MSG_UNREADABLE";
    case OTRL_ERRCODE_MSG_MALFORMED: return "MSG_MALFORMED";
    }
    return "UNKNOWN";
}

/* The text after "?OTR Error: " that the peer sees: a fixed text naming the code, so a test
 * on the other side can recognise it. */
static const char *cb_otr_error_message(void *opdata, ConnContext *context,
                                        OtrlErrorCode err_code)
{
    (void)opdata;
    emit("error-out", ctx_name(context), errcode_name(err_code), (const char *)NULL);
    switch (err_code) {
    case OTRL_ERRCODE_ENCRYPTION_ERROR: return "otr-peer: encryption error";
    case OTRL_ERRCODE_MSG_NOT_IN_PRIVATE: return "otr-peer: message not in private";
    case OTRL_ERRCODE_MSG_UNREADABLE: return "otr-peer: message unreadable";
    case OTRL_ERRCODE_MSG_MALFORMED: return "otr-peer: message malformed";
    case OTRL_ERRCODE_NONE: break;
    }
    return "otr-peer: error";
}

static void cb_handle_smp_event(void *opdata, OtrlSMPEvent smp_event, ConnContext *context,
                                unsigned short progress_percent, char *question)
{
    const char *name = "unknown";

    (void)opdata;
    (void)progress_percent;
    switch (smp_event) {
    case OTRL_SMPEVENT_NONE: name = "none"; break;
    case OTRL_SMPEVENT_ERROR: name = "error"; break;
    case OTRL_SMPEVENT_ABORT: name = "aborted"; break;
    case OTRL_SMPEVENT_CHEATED: name = "cheated"; break;
    case OTRL_SMPEVENT_ASK_FOR_ANSWER: name = "askq"; break;
    case OTRL_SMPEVENT_ASK_FOR_SECRET: name = "ask"; break;
    case OTRL_SMPEVENT_IN_PROGRESS: name = "progress"; break;
    case OTRL_SMPEVENT_SUCCESS: name = "success"; break;
    case OTRL_SMPEVENT_FAILURE: name = "failure"; break;
    }
    if (smp_event == OTRL_SMPEVENT_ASK_FOR_ANSWER && question) {
        emit("smp", ctx_name(context), name, question, (const char *)NULL);
    } else {
        emit("smp", ctx_name(context), name, (const char *)NULL);
    }
}

static const char *msgevent_name(OtrlMessageEvent ev)
{
    switch (ev) {
    case OTRL_MSGEVENT_NONE: return "NONE";
    case OTRL_MSGEVENT_ENCRYPTION_REQUIRED: return "ENCRYPTION_REQUIRED";
    case OTRL_MSGEVENT_ENCRYPTION_ERROR: return "ENCRYPTION_ERROR";
    case OTRL_MSGEVENT_CONNECTION_ENDED: return "CONNECTION_ENDED";
    case OTRL_MSGEVENT_SETUP_ERROR: return "SETUP_ERROR";
    case OTRL_MSGEVENT_MSG_REFLECTED: return "MSG_REFLECTED";
    case OTRL_MSGEVENT_MSG_RESENT: return "MSG_RESENT";
    case OTRL_MSGEVENT_RCVDMSG_NOT_IN_PRIVATE: return "RCVDMSG_NOT_IN_PRIVATE";
    case OTRL_MSGEVENT_RCVDMSG_UNREADABLE: return "RCVDMSG_UNREADABLE";
    case OTRL_MSGEVENT_RCVDMSG_MALFORMED: return "RCVDMSG_MALFORMED";
    case OTRL_MSGEVENT_LOG_HEARTBEAT_RCVD: return "LOG_HEARTBEAT_RCVD";
    case OTRL_MSGEVENT_LOG_HEARTBEAT_SENT: return "LOG_HEARTBEAT_SENT";
    case OTRL_MSGEVENT_RCVDMSG_GENERAL_ERR: return "RCVDMSG_GENERAL_ERR";
    case OTRL_MSGEVENT_RCVDMSG_UNENCRYPTED: return "RCVDMSG_UNENCRYPTED";
    case OTRL_MSGEVENT_RCVDMSG_UNRECOGNIZED: return "RCVDMSG_UNRECOGNIZED";
    case OTRL_MSGEVENT_RCVDMSG_FOR_OTHER_INSTANCE: return "RCVDMSG_FOR_OTHER_INSTANCE";
    }
    return "UNKNOWN";
}

static void cb_handle_msg_event(void *opdata, OtrlMessageEvent msg_event, ConnContext *context,
                                const char *message, gcry_error_t err)
{
    (void)opdata;
    if (message) {
        emit("event", ctx_name(context), msgevent_name(msg_event), message, (const char *)NULL);
    } else if (err) {
        emit("event", ctx_name(context), msgevent_name(msg_event), err_text(err),
             (const char *)NULL);
    } else {
        emit("event", ctx_name(context), msgevent_name(msg_event), (const char *)NULL);
    }
}

static void cb_create_instag(void *opdata, const char *accountname, const char *proto)
{
    (void)opdata;
    (void)accountname;
    (void)proto;
    make_instag();
}

/* No conversion; only notes that a decrypted data message is being delivered. */
static void cb_convert_msg(void *opdata, ConnContext *context, OtrlConvertType convert_type,
                           char **dest, const char *src)
{
    (void)opdata;
    (void)context;
    (void)src;
    *dest = NULL;
    if (convert_type == OTRL_CONVERT_RECEIVING) {
        decrypted = 1;
    }
}

static void cb_timer_control(void *opdata, unsigned int interval)
{
    (void)opdata;
    timer_interval = interval;
    timer_due = interval ? time(NULL) + (time_t)interval : 0;
}

static OtrlMessageAppOps ops;

static void init_ops(void)
{
    memset(&ops, 0, sizeof ops);
    ops.policy = cb_policy;
    ops.create_privkey = cb_create_privkey;
    ops.is_logged_in = cb_is_logged_in;
    ops.inject_message = cb_inject_message;
    ops.new_fingerprint = cb_new_fingerprint;
    ops.write_fingerprints = cb_write_fingerprints;
    ops.gone_secure = cb_gone_secure;
    ops.gone_insecure = cb_gone_insecure;
    ops.still_secure = cb_still_secure;
    ops.max_message_size = cb_max_message_size;
    ops.otr_error_message = cb_otr_error_message;
    ops.handle_smp_event = cb_handle_smp_event;
    ops.handle_msg_event = cb_handle_msg_event;
    ops.create_instag = cb_create_instag;
    ops.convert_msg = cb_convert_msg;
    ops.timer_control = cb_timer_control;
}

/* ---- helpers for commands ------------------------------------------------------------------- */
static otrl_instag_t target_for(const char *name)
{
    struct target *t;
    for (t = targets; t; t = t->next) {
        if (strcmp(t->name, name) == 0) {
            return t->instag;
        }
    }
    return OTRL_INSTAG_BEST;
}

static void set_target(const char *name, otrl_instag_t instag)
{
    struct target *t;
    for (t = targets; t; t = t->next) {
        if (strcmp(t->name, name) == 0) {
            t->instag = instag;
            return;
        }
    }
    t = malloc(sizeof *t);
    if (!t || !(t->name = strdup(name))) {
        fprintf(stderr, "otr-peer: out of memory\n");
        exit(1);
    }
    t->instag = instag;
    t->next = targets;
    targets = t;
}

static ConnContext *master_context(const char *name)
{
    return otrl_context_find(us, name, account, protocol, OTRL_INSTAG_MASTER, 0, NULL, NULL,
                             NULL);
}

/* The instance `instance` chose (default: libotr's best). In OTRv3 the session lives in a
 * child context per instance tag; the master context stays PLAINTEXT, so SMP goes here. */
static ConnContext *target_context(const char *name)
{
    if (!master_context(name)) {
        return NULL;
    }
    return otrl_context_find(us, name, account, protocol, target_for(name), 0, NULL, NULL,
                             NULL);
}

static otrl_instag_t our_instag(void)
{
    OtrlInsTag *t = otrl_instag_find(us, account, protocol);
    return t ? t->instag : 0;
}

static const char *state_name(OtrlMessageState st)
{
    switch (st) {
    case OTRL_MSGSTATE_PLAINTEXT: return "plaintext";
    case OTRL_MSGSTATE_ENCRYPTED: return "encrypted";
    case OTRL_MSGSTATE_FINISHED: return "finished";
    }
    return "unknown";
}

static void emit_status(const char *name, const ConnContext *c)
{
    char version[16], theirs[16], ours[16], human[OTRL_PRIVKEY_FPRINT_HUMAN_LEN];
    const char *fp = "-", *trust = "-";

    snprintf(version, sizeof version, "%u", c ? c->protocol_version : 0);
    snprintf(theirs, sizeof theirs, "%08x", c ? c->their_instance : 0);
    snprintf(ours, sizeof ours, "%08x", (c && c->our_instance) ? c->our_instance : our_instag());
    if (c && c->active_fingerprint && c->active_fingerprint->fingerprint) {
        otrl_privkey_hash_to_human(human, c->active_fingerprint->fingerprint);
        fp = human;
        if (c->active_fingerprint->trust && c->active_fingerprint->trust[0]) {
            trust = c->active_fingerprint->trust;
        }
    }
    emit("status", name, c ? state_name(c->msgstate) : "plaintext", version, theirs, ours, fp,
         trust, (const char *)NULL);
}

/* A fingerprint as typed: hex digits only, upper case ("abcd 1234" == "ABCD1234"). */
static void normalize_fp(const char *in, char *out, size_t outlen)
{
    size_t n = 0;
    for (; *in && n + 1 < outlen; in++) {
        if (isxdigit((unsigned char)*in)) {
            out[n++] = (char)toupper((unsigned char)*in);
        }
    }
    out[n] = '\0';
}

static void run_timer_if_due(void)
{
    if (timer_interval && time(NULL) >= timer_due) {
        otrl_message_poll(us, &ops, NULL);
        if (timer_interval) {
            timer_due = time(NULL) + (time_t)timer_interval;
        }
    }
}

/* ---- commands: each returns NULL (ok) or the reason for err ------------------------------- */
static const char *cmd_recv(char **f, int n)
{
    char *newmsg = NULL;
    OtrlTLV *tlvs = NULL;
    int ignore;

    if (n != 3) return "usage: recv FROM TEXT";
    decrypted = 0;
    ignore = otrl_message_receiving(us, &ops, NULL, account, protocol, f[1], f[2], &newmsg,
                                    &tlvs, NULL, NULL, NULL);
    otrl_tlv_free(tlvs);
    if (!ignore) {
        emit("msg", f[1], newmsg ? newmsg : f[2], (newmsg && decrypted) ? "enc" : "plain",
             (const char *)NULL);
    }
    otrl_message_free(newmsg);
    return NULL;
}

static const char *cmd_send(char **f, int n)
{
    static char reason[200];
    char *newmsg = NULL;
    gcry_error_t err;

    if (n != 3) return "usage: send TO TEXT";
    err = otrl_message_sending(us, &ops, NULL, account, protocol, f[1], target_for(f[1]), f[2],
                               NULL, &newmsg, OTRL_FRAGMENT_SEND_ALL, NULL, NULL, NULL);
    if (err) {
        otrl_message_free(newmsg);
        snprintf(reason, sizeof reason, "otrl_message_sending: %s", err_text(err));
        return reason;
    }
    /* libotr injected whatever it made of the text (SEND_ALL); no result means "send the
     * text unchanged", which is the application's job. */
    if (!newmsg) {
        emit_out(f[1], f[2]);
    }
    otrl_message_free(newmsg);
    return NULL;
}

static const char *cmd_query(char **f, int n)
{
    char *q;

    if (n != 2) return "usage: query TO";
    q = otrl_proto_default_query_msg(account, policy);
    if (!q) return "otrl_proto_default_query_msg failed";
    emit_out(f[1], q);
    free(q);
    return NULL;
}

static const char *cmd_finish(char **f, int n)
{
    if (n != 2) return "usage: finish TO";
    otrl_message_disconnect_all_instances(us, &ops, NULL, account, protocol, f[1]);
    return NULL;
}

static const char *cmd_smp(char **f, int n)
{
    const char *cmd = f[0];
    ConnContext *c;

    if (strcmp(cmd, "smp") == 0 && n != 3) return "usage: smp TO SECRET";
    if (strcmp(cmd, "smpq") == 0 && n != 4) return "usage: smpq TO QUESTION SECRET";
    if (strcmp(cmd, "smp-respond") == 0 && n != 3) return "usage: smp-respond TO SECRET";
    if (strcmp(cmd, "smp-abort") == 0 && n != 2) return "usage: smp-abort TO";
    c = target_context(f[1]);
    if (!c) return "no OTR context for that nick";
    if (strcmp(cmd, "smp") == 0) {
        otrl_message_initiate_smp(us, &ops, NULL, c, (const unsigned char *)f[2], strlen(f[2]));
    } else if (strcmp(cmd, "smpq") == 0) {
        otrl_message_initiate_smp_q(us, &ops, NULL, c, f[2], (const unsigned char *)f[3],
                                    strlen(f[3]));
    } else if (strcmp(cmd, "smp-respond") == 0) {
        otrl_message_respond_smp(us, &ops, NULL, c, (const unsigned char *)f[2], strlen(f[2]));
    } else {
        otrl_message_abort_smp(us, &ops, NULL, c);
    }
    return NULL;
}

static const char *cmd_status(char **f, int n)
{
    ConnContext *m, *c;
    int children = 0;

    if (n != 2) return "usage: status TO";
    m = master_context(f[1]);
    if (!m) {
        emit_status(f[1], NULL);
        return NULL;
    }
    /* One line per instance (v3 child context); the master alone when there are none. */
    for (c = us->context_root; c; c = c->next) {
        if (c->m_context == m && c != m) {
            emit_status(f[1], c);
            children++;
        }
    }
    if (!children) {
        emit_status(f[1], m);
    }
    return NULL;
}

static const char *cmd_fingerprint(char **f, int n)
{
    char human[OTRL_PRIVKEY_FPRINT_HUMAN_LEN];

    (void)f;
    if (n != 1) return "usage: fingerprint";
    if (!otrl_privkey_fingerprint(us, human, account, protocol)) return "no private key";
    emit("fp", human, (const char *)NULL);
    return NULL;
}

static const char *cmd_trust(char **f, int n)
{
    ConnContext *m;
    Fingerprint *fp;
    char want[64], have[64], human[OTRL_PRIVKEY_FPRINT_HUMAN_LEN];

    if (n != 4) return "usage: trust TO FINGERPRINT TRUST";
    m = master_context(f[1]);
    if (!m) return "no OTR context for that nick";
    normalize_fp(f[2], want, sizeof want);
    for (fp = m->fingerprint_root.next; fp; fp = fp->next) {
        otrl_privkey_hash_to_human(human, fp->fingerprint);
        normalize_fp(human, have, sizeof have);
        if (strcmp(want, have) == 0) {
            /* "-" clears, as status prints "-" for no trust. */
            otrl_context_set_trust(fp, strcmp(f[3], "-") == 0 ? "" : f[3]);
            write_fingerprints_file();
            return NULL;
        }
    }
    return "no such fingerprint for that nick";
}

static int parse_long(const char *s, int base, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, base);
    if (errno || end == s || *end) return 0;
    *out = v;
    return 1;
}

static const char *cmd_advance(char **f, int n)
{
    long secs;

    if (n != 2 || !parse_long(f[1], 10, &secs)) return "usage: advance SECONDS";
    clock_offset += secs;
    run_timer_if_due();
    return NULL;
}

static const char *cmd_instance(char **f, int n)
{
    long tag;

    if (n != 3) return "usage: instance TO TAG_HEX|best|recent";
    if (strcmp(f[2], "best") == 0) {
        set_target(f[1], OTRL_INSTAG_BEST);
    } else if (strcmp(f[2], "recent") == 0) {
        set_target(f[1], OTRL_INSTAG_RECENT);
    } else if (parse_long(f[2], 16, &tag) && tag >= OTRL_MIN_VALID_INSTAG &&
               tag <= 0xffffffffL) {
        set_target(f[1], (otrl_instag_t)tag);
    } else {
        return "instance tag must be hex >= 100, best or recent";
    }
    return NULL;
}

static const char *cmd_poll(char **f, int n)
{
    (void)f;
    if (n != 1) return "usage: poll";
    otrl_message_poll(us, &ops, NULL);
    if (timer_interval) {
        timer_due = time(NULL) + (time_t)timer_interval;
    }
    return NULL;
}

/* ---- the command loop ----------------------------------------------------------------------- */

/* Undo the escaping in place; 0 on a bad escape. */
static int unescape(char *s)
{
    char *out = s;
    for (; *s; s++) {
        if (*s != '\\') {
            *out++ = *s;
            continue;
        }
        s++;
        switch (*s) {
        case '\\': *out++ = '\\'; break;
        case 't': *out++ = '\t'; break;
        case 'n': *out++ = '\n'; break;
        case 'r': *out++ = '\r'; break;
        default: return 0;
        }
    }
    *out = '\0';
    return 1;
}

static const char *dispatch(char **f, int n)
{
    const char *c = f[0];

    if (strcmp(c, "recv") == 0) return cmd_recv(f, n);
    if (strcmp(c, "send") == 0) return cmd_send(f, n);
    if (strcmp(c, "query") == 0) return cmd_query(f, n);
    if (strcmp(c, "finish") == 0) return cmd_finish(f, n);
    if (strcmp(c, "smp") == 0 || strcmp(c, "smpq") == 0 || strcmp(c, "smp-respond") == 0 ||
        strcmp(c, "smp-abort") == 0) {
        return cmd_smp(f, n);
    }
    if (strcmp(c, "status") == 0) return cmd_status(f, n);
    if (strcmp(c, "fingerprint") == 0) return cmd_fingerprint(f, n);
    if (strcmp(c, "trust") == 0) return cmd_trust(f, n);
    if (strcmp(c, "advance") == 0) return cmd_advance(f, n);
    if (strcmp(c, "instance") == 0) return cmd_instance(f, n);
    if (strcmp(c, "poll") == 0) return cmd_poll(f, n);
    return "unknown command";
}

static void usage(void)
{
    fprintf(stderr, "usage: otr-peer --dir DIR --account NAME [--protocol irc] [--max-msg 400]"
                    " [--policy v2,v3[,require][,whitespace]]\n");
    exit(2);
}

static OtrlPolicy parse_policy(const char *spec)
{
    OtrlPolicy p = OTRL_POLICY_WHITESPACE_START_AKE | OTRL_POLICY_ERROR_START_AKE;
    char *copy = strdup(spec), *tok, *save = NULL;

    if (!copy) usage();
    for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (strcmp(tok, "v2") == 0) p |= OTRL_POLICY_ALLOW_V2;
        else if (strcmp(tok, "v3") == 0) p |= OTRL_POLICY_ALLOW_V3;
        else if (strcmp(tok, "require") == 0) p |= OTRL_POLICY_REQUIRE_ENCRYPTION;
        else if (strcmp(tok, "whitespace") == 0) p |= OTRL_POLICY_SEND_WHITESPACE_TAG;
        else {
            fprintf(stderr, "otr-peer: unknown policy word %s\n", tok);
            usage();
        }
    }
    free(copy);
    return p;
}

static void load_files(const char *dir)
{
    gcry_error_t err;

    privkey_path = join_path(dir, "otr.private_key");
    fingerprints_path = join_path(dir, "otr.fingerprints");
    instag_path = join_path(dir, "otr.instag");

    if (file_exists(privkey_path) && (err = otrl_privkey_read(us, privkey_path))) {
        fprintf(stderr, "otr-peer: reading %s: %s\n", privkey_path, err_text(err));
        exit(1);
    }
    if (!otrl_privkey_find(us, account, protocol)) {
        make_privkey();
    }
    if (file_exists(fingerprints_path) &&
        (err = otrl_privkey_read_fingerprints(us, fingerprints_path, NULL, NULL))) {
        fprintf(stderr, "otr-peer: reading %s: %s\n", fingerprints_path, err_text(err));
        exit(1);
    }
    if (file_exists(instag_path) && (err = otrl_instag_read(us, instag_path))) {
        fprintf(stderr, "otr-peer: reading %s: %s\n", instag_path, err_text(err));
        exit(1);
    }
    if (!otrl_instag_find(us, account, protocol)) {
        make_instag();
    }
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int i;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = (i + 1 < argc) ? argv[i + 1] : NULL;
        if (!v) usage();
        if (strcmp(a, "--dir") == 0) dir = v;
        else if (strcmp(a, "--account") == 0) account = v;
        else if (strcmp(a, "--protocol") == 0) protocol = v;
        else if (strcmp(a, "--max-msg") == 0) {
            long m;
            if (!parse_long(v, 10, &m) || m < 0 || m > 1000000) usage();
            max_msg = (int)m;
        } else if (strcmp(a, "--policy") == 0) policy = parse_policy(v);
        else usage();
        i++;
    }
    if (!dir || !account) usage();

    OTRL_INIT;
    us = otrl_userstate_create();
    init_ops();
    load_files(dir);

    while ((len = getline(&line, &cap, stdin)) >= 0) {
        char *fields[MAX_FIELDS];
        int n = 0, bad = 0;
        char *p = line, *tab;
        const char *reason;

        if (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
        if (len == 0) continue;
        for (;;) {
            if (n == MAX_FIELDS) { bad = 1; break; }
            fields[n++] = p;
            tab = strchr(p, '\t');
            if (!tab) break;
            *tab = '\0';
            p = tab + 1;
        }
        for (i = 0; i < n && !bad; i++) {
            if (!unescape(fields[i])) bad = 1;
        }
        if (bad) {
            emit("err", "bad line (too many fields or a bad escape)", (const char *)NULL);
            continue;
        }
        if (strcmp(fields[0], "quit") == 0) {
            emit("ok", (const char *)NULL);
            break;
        }
        reason = dispatch(fields, n);
        if (reason) {
            emit("err", reason, (const char *)NULL);
        } else {
            emit("ok", (const char *)NULL);
        }
    }
    free(line);
    otrl_userstate_free(us);
    return 0;
}
