/* labelfree serve: the index over HTTP (libmicrohttpd, a pool of worker threads).
 *   GET  /                      the web page (cli/serve_page.h)
 *   GET  /api/info              counts, dimension, encoder
 *   GET  /api/query?smiles=S[&k=10][&target=image|molecule][&exact=1]
 *   POST /api/query/image[?k=]  body = the raw image file (at most --max-body bytes)
 *   GET  /api/item/<id>         metadata of one item
 *   GET  /api/neighbors/<id>[?k=][&target=]   nearest items of a stored item (default: other kind)
 *   GET  /files/<relative path> a file inside the index folder (no '..', no absolute paths,
 *                               no symlink leading outside: checked on the resolved path)
 * Errors are JSON {"error": message} with a 4xx status (5xx only for internal failures). */
#include "cli.h"
#include "index_json.h"
#include "pairs_model.h"
#include "serve_page.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct server {
    lf_index_dir *dir;
    char root[PATH_MAX]; /* realpath of the index folder */
    size_t max_body;
    int64_t dim;
} server;

typedef struct request {
    char *body;
    size_t len, cap;
    int too_large;
} request;

static volatile sig_atomic_t g_stop;
static void on_signal(int s) { (void)s; g_stop = 1; }

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned code, const char *type, const char *text, size_t n)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(n, (void *)text, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned code, json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s) return send_text(c, 500, "application/json", "{\"error\":\"out of memory\"}", 25);
    enum MHD_Result r = send_text(c, code, "application/json", s, strlen(s));
    free(s);
    return r;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned code, const char *msg)
{
    return send_json(c, code, json_pack("{s:s, s:i}", "error", msg ? msg : "error", "status", (int)code));
}

/* library status -> HTTP status: bad input 400, unsupported 501, the rest 500 */
static unsigned http_of(lf_status s)
{
    switch (s) {
    case LF_ERR_ARG: case LF_ERR_FORMAT: case LF_ERR_SHAPE: case LF_ERR_NUMERIC: return 400;
    case LF_ERR_UNSUPPORTED: return 501;
    default: return 500;
    }
}

static int parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    if (!s || !*s) return 0;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

static enum MHD_Result search_reply(server *S, struct MHD_Connection *c, const float *q, int from_kind,
                                    json_t *query_info)
{
    int64_t k = 10;
    const char *ks = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "k");
    if (ks && !parse_int(ks, 1, 100, &k)) { json_decref(query_info); return send_error(c, 400, "k must be an integer 1..100"); }
    const char *ts = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "target");
    int kind = 1 - from_kind;
    if (ts) {
        if (!strcmp(ts, "image")) kind = LF_ITEM_IMAGE;
        else if (!strcmp(ts, "molecule")) kind = LF_ITEM_MOLECULE;
        else { json_decref(query_info); return send_error(c, 400, "target must be image or molecule"); }
    } else if (!lf_index_dir_collection(S->dir, kind)) kind = from_kind;
    const char *ex = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "exact");
    int exact = ex && strcmp(ex, "0");
    lf_index_hit hits[100];
    int nh = 0;
    lf_status st = lf_index_dir_search(S->dir, kind, q, (int)k, exact, hits, &nh);
    if (st) { json_decref(query_info); return send_error(c, http_of(st), lf_last_error()); }
    json_t *arr = json_array();
    for (int i = 0; i < nh; i++) json_array_append_new(arr, index_hit_json(S->dir, i + 1, &hits[i]));
    json_object_set_new(query_info, "target", json_string(lf_item_kind_name(kind)));
    json_object_set_new(query_info, "results", arr);
    return send_json(c, 200, query_info);
}

static enum MHD_Result api_query_smiles(server *S, struct MHD_Connection *c)
{
    const char *smi = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "smiles");
    if (!smi || !*smi) return send_error(c, 400, "missing query parameter smiles");
    if (strlen(smi) > 2000) return send_error(c, 400, "SMILES longer than 2000 characters");
    float *q = malloc(sizeof(float) * (size_t)S->dim);
    if (!q) return send_error(c, 500, "out of memory");
    lf_status st = lf_index_dir_encode_smiles(S->dir, smi, q);
    enum MHD_Result r;
    if (st) {
        char msg[600];
        snprintf(msg, sizeof msg, "invalid SMILES: %s", lf_last_error());
        r = send_error(c, st == LF_ERR_UNSUPPORTED ? 501 : 400, st == LF_ERR_UNSUPPORTED ? lf_last_error() : msg);
    } else {
        r = search_reply(S, c, q, LF_ITEM_MOLECULE, json_pack("{s:s}", "smiles", smi));
    }
    free(q);
    return r;
}

static enum MHD_Result api_query_image(server *S, struct MHD_Connection *c, request *rq)
{
    if (rq->too_large) {
        char msg[96];
        snprintf(msg, sizeof msg, "upload larger than the limit of %zu bytes", S->max_body);
        return send_error(c, 413, msg);
    }
    if (!rq->len) return send_error(c, 400, "empty upload: POST the image file as the request body");
    char tmp[] = "/tmp/lf_serve_upload_XXXXXX";
    int fd = mkstemp(tmp);
    if (fd < 0) return send_error(c, 500, "cannot store the upload");
    size_t off = 0;
    while (off < rq->len) {
        ssize_t w = write(fd, rq->body + off, rq->len - off);
        if (w <= 0) break;
        off += (size_t)w;
    }
    close(fd);
    enum MHD_Result r;
    lf_image img = {0};
    lf_status st = off == rq->len ? lf_image_read(tmp, &img) : lf_error(LF_ERR_IO, "cannot store the upload");
    lf_image_free(&img);
    if (st) {
        char msg[600];
        const char *why = lf_last_error(); /* drop the temporary file's name from the message */
        if (!strncmp(why, tmp, strlen(tmp))) why += strlen(tmp);
        snprintf(msg, sizeof msg, "invalid image: upload%s", why);
        r = send_error(c, st == LF_ERR_IO ? 500 : 400, msg);
    } else {
        float *q = malloc(sizeof(float) * (size_t)S->dim);
        st = q ? lf_index_dir_encode_image(S->dir, tmp, q) : LF_ERR_NOMEM;
        if (st) r = send_error(c, http_of(st), lf_last_error());
        else r = search_reply(S, c, q, LF_ITEM_IMAGE, json_pack("{s:I}", "upload_bytes", (json_int_t)rq->len));
        free(q);
    }
    unlink(tmp);
    return r;
}

static enum MHD_Result api_item(server *S, struct MHD_Connection *c, const char *ids, int neighbors)
{
    int64_t id;
    if (!parse_int(ids, 0, INT64_MAX / 2, &id)) return send_error(c, 400, "item id must be a non-negative integer");
    lf_index_item it;
    if (lf_index_meta_get(lf_index_dir_meta(S->dir), id, &it)) return send_error(c, 404, lf_last_error());
    lf_index_hit self = {id, 1.0f};
    enum MHD_Result r;
    if (!neighbors) {
        json_t *o = index_hit_json(S->dir, 0, &self);
        json_object_del(o, "rank");
        json_object_del(o, "score");
        r = send_json(c, 200, o);
    } else {
        const float *v = lf_index_vector(lf_index_dir_collection(S->dir, it.kind), it.row);
        if (!v) r = send_error(c, 500, "stored item without a vector");
        else {
            json_t *o = index_hit_json(S->dir, 0, &self);
            json_object_del(o, "rank");
            json_object_del(o, "score");
            r = search_reply(S, c, v, it.kind, json_pack("{s:o}", "item", o));
        }
    }
    lf_index_item_clear(&it);
    return r;
}

static const char *mime_of(const char *p)
{
    const char *e = strrchr(p, '.');
    if (!e) return "application/octet-stream";
    if (!strcasecmp(e, ".png")) return "image/png";
    if (!strcasecmp(e, ".jpg") || !strcasecmp(e, ".jpeg")) return "image/jpeg";
    if (!strcasecmp(e, ".json")) return "application/json";
    if (!strcasecmp(e, ".csv") || !strcasecmp(e, ".txt")) return "text/plain; charset=utf-8";
    return "application/octet-stream";
}

/* rel comes from the URL after /files/ (already %-decoded by libmicrohttpd) */
static enum MHD_Result serve_file(server *S, struct MHD_Connection *c, const char *rel)
{
    if (!*rel || rel[0] == '/' || strlen(rel) > 1024) return send_error(c, 400, "bad file path");
    /* reject '..' as a path component, backslashes and control characters outright */
    for (const char *p = rel; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == '\\') return send_error(c, 400, "bad character in file path");
        if (p[0] == '.' && p[1] == '.' && (p == rel || p[-1] == '/') && (p[2] == 0 || p[2] == '/'))
            return send_error(c, 403, "'..' is not allowed in file paths");
    }
    char full[PATH_MAX * 2], real[PATH_MAX];
    snprintf(full, sizeof full, "%s/%s", S->root, rel);
    if (!realpath(full, real)) return send_error(c, 404, "no such file");
    size_t rl = strlen(S->root);
    if (strncmp(real, S->root, rl) != 0 || real[rl] != '/') return send_error(c, 403, "file outside the index folder");
    int fd = open(real, O_RDONLY);
    if (fd < 0) return send_error(c, 404, "no such file");
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return send_error(c, 404, "not a regular file");
    }
    struct MHD_Response *r = MHD_create_response_from_fd((uint64_t)sb.st_size, fd); /* owns fd */
    if (!r) { close(fd); return MHD_NO; }
    MHD_add_response_header(r, "Content-Type", mime_of(real));
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result api_info(server *S, struct MHD_Connection *c)
{
    const lf_index_manifest *mf = lf_index_dir_manifest(S->dir);
    json_t *o = json_pack("{s:I, s:s}", "dim", (json_int_t)mf->dim, "encoder", mf->encoder);
    for (int k = 0; k < 2; k++) {
        lf_index *ix = lf_index_dir_collection(S->dir, k);
        json_object_set_new(o, k ? "molecules" : "images", json_integer(ix ? lf_index_count(ix) : 0));
        if (ix && lf_index_has_ivf(ix))
            json_object_set_new(o, k ? "molecule_ivf" : "image_ivf",
                                json_pack("{s:I, s:i}", "nlist", (json_int_t)lf_index_nlist(ix), "nprobe", lf_index_nprobe(ix)));
    }
    return send_json(c, 200, o);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    server *S = cls;
    request *rq = *con_cls;
    if (!rq) { /* first call: headers only */
        rq = calloc(1, sizeof *rq);
        if (!rq) return MHD_NO;
        *con_cls = rq;
        return MHD_YES;
    }
    int is_post = !strcmp(method, "POST"), is_get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    if (*upload_size) { /* body chunks: keep up to max_body, then only count */
        if (!rq->too_large && rq->len + *upload_size <= S->max_body && is_post) {
            if (rq->len + *upload_size > rq->cap) {
                size_t nc = (rq->len + *upload_size) * 2;
                if (nc > S->max_body) nc = S->max_body;
                char *nb = realloc(rq->body, nc);
                if (!nb) return MHD_NO;
                rq->body = nb;
                rq->cap = nc;
            }
            memcpy(rq->body + rq->len, upload, *upload_size);
            rq->len += *upload_size;
        } else {
            rq->too_large = 1;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (is_post && !strcmp(url, "/api/query/image")) return api_query_image(S, c, rq);
    if (!is_get) return send_error(c, 405, "method not allowed");
    if (!strcmp(url, "/") || !strcmp(url, "/index.html"))
        return send_text(c, 200, "text/html; charset=utf-8", SERVE_PAGE, strlen(SERVE_PAGE));
    if (!strcmp(url, "/api/info")) return api_info(S, c);
    if (!strcmp(url, "/api/query")) return api_query_smiles(S, c);
    if (!strncmp(url, "/api/item/", 10)) return api_item(S, c, url + 10, 0);
    if (!strncmp(url, "/api/neighbors/", 15)) return api_item(S, c, url + 15, 1);
    if (!strncmp(url, "/files/", 7)) return serve_file(S, c, url + 1); /* keeps the files/ prefix */
    return send_error(c, 404, "no such endpoint");
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
    (void)cls; (void)c; (void)t;
    request *rq = *con_cls;
    if (rq) { free(rq->body); free(rq); }
    *con_cls = NULL;
}

int cmd_serve(int argc, char **argv)
{
    const char *index = NULL, *host = "127.0.0.1";
    int64_t port = 8080, threads = 4, max_body = 8 << 20, max_seconds = 0;
    cli_arg args[] = {
        {"index", ARG_STR, &index, "index folder (labelfree index build)", true, false},
        {"host", ARG_STR, &host, "IPv4 address to bind (default 127.0.0.1, loopback only)", false, false},
        {"port", ARG_INT, &port, "TCP port (default 8080)", false, false},
        {"threads", ARG_INT, &threads, "worker threads (default 4)", false, false},
        {"max-body", ARG_INT, &max_body, "largest accepted request body in bytes (default 8 MiB)", false, false},
        {"max-seconds", ARG_INT, &max_seconds, "stop after this many seconds (0: run until SIGINT/SIGTERM)", false, false},
    };
    int n_args = (int)(sizeof args / sizeof args[0]);
    int rc = cli_parse("serve", argc, argv, args, n_args);
    if (rc) {
        cli_usage("serve", "serve an index over HTTP: JSON API and a web page", args, n_args);
        return rc == 2 ? 0 : 1;
    }
    if (port < 1 || port > 65535 || threads < 1 || threads > 64 || max_body < 1024 || max_body > (1 << 30)) {
        fprintf(stderr, "labelfree serve: --port 1..65535, --threads 1..64, --max-body 1 KiB..1 GiB\n");
        return 1;
    }
    server S = {0};
    S.max_body = (size_t)max_body;
    if (!realpath(index, S.root)) {
        fprintf(stderr, "labelfree serve: %s: %s\n", index, strerror(errno));
        return 1;
    }
    lf_index_set_model_loader(pm_query_encoder_load); /* indexes built with --model */
    if (lf_index_dir_open(&S.dir, S.root)) return cli_fail("serve");
    S.dim = lf_index_dir_manifest(S.dir)->dim;
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "labelfree serve: --host %s is not an IPv4 address\n", host);
        lf_index_dir_close(S.dir);
        return 1;
    }
    lf_set_threads(1); /* one BLAS thread per request; requests run in parallel instead */
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, (uint16_t)port, NULL, NULL,
        handler, &S, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads, MHD_OPTION_CONNECTION_TIMEOUT, 15u,
        MHD_OPTION_CONNECTION_LIMIT, 512u, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024,
        MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "labelfree serve: cannot listen on %s:%lld (%s)\n", host, (long long)port, strerror(errno));
        lf_index_dir_close(S.dir);
        return 1;
    }
    fprintf(stderr, "labelfree serve: http://%s:%lld/ (index %s)\n", host, (long long)port, S.root);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    for (int64_t t = 0; !g_stop && (max_seconds <= 0 || t < max_seconds * 10); t++) usleep(100000);
    MHD_stop_daemon(d);
    lf_index_dir_close(S.dir);
    fprintf(stderr, "labelfree serve: stopped\n");
    return 0;
}
