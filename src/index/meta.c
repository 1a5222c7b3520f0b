/* Item metadata in SQLite: one table `items`, prepared statements, one connection guarded by
 * a mutex (the server queries it from several threads). A new database is written inside one
 * transaction (bulk inserts) and committed by lf_index_meta_commit. */
#include "index_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

struct lf_index_meta {
    sqlite3 *db;
    sqlite3_stmt *ins, *get, *find, *count;
    pthread_mutex_t mu;
    int in_tx;
    char *path;
};

const char *lf_item_kind_name(int kind)
{
    return kind == LF_ITEM_IMAGE ? "image" : kind == LF_ITEM_MOLECULE ? "molecule" : "?";
}

static lf_status sql_err(lf_index_meta *m, const char *what)
{
    return lf_error(LF_ERR_IO, "%s: sqlite %s: %s", m->path, what, sqlite3_errmsg(m->db));
}

void lf_index_meta_close(lf_index_meta *m)
{
    if (!m) return;
    sqlite3_finalize(m->ins);
    sqlite3_finalize(m->get);
    sqlite3_finalize(m->find);
    sqlite3_finalize(m->count);
    if (m->in_tx) sqlite3_exec(m->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(m->db);
    pthread_mutex_destroy(&m->mu);
    lf_free(m->path);
    lf_free(m);
}

#define COLS "id, kind, row, path, smiles, compound, moa, label, extra"

lf_status lf_index_meta_open(lf_index_meta **out, const char *path, int create)
{
    if (!out || !path) return lf_error(LF_ERR_ARG, "lf_index_meta_open: NULL argument");
    *out = NULL;
    lf_index_meta *m = lf_calloc(1, sizeof *m);
    if (!m) return LF_ERR_NOMEM;
    pthread_mutex_init(&m->mu, NULL);
    m->path = lf_strdup(path);
    if (create) unlink(path);
    int flags = create ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY;
    lf_status st = LF_OK;
    if (sqlite3_open_v2(path, &m->db, flags | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
        st = lf_error(LF_ERR_IO, "%s: cannot open the metadata database: %s", path,
                      m->db ? sqlite3_errmsg(m->db) : "out of memory");
        goto fail;
    }
    if (create) {
        const char *ddl =
            "CREATE TABLE items (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, row INTEGER NOT NULL,"
            " path TEXT, smiles TEXT, compound TEXT, moa TEXT, label TEXT, extra TEXT,"
            " UNIQUE(kind, row));"
            "BEGIN";
        if (sqlite3_exec(m->db, ddl, NULL, NULL, NULL) != SQLITE_OK) { st = sql_err(m, "create table"); goto fail; }
        m->in_tx = 1;
        if (sqlite3_prepare_v2(m->db, "INSERT INTO items (" COLS ") VALUES (?,?,?,?,?,?,?,?,?)", -1,
                               &m->ins, NULL) != SQLITE_OK) { st = sql_err(m, "prepare insert"); goto fail; }
    }
    if (sqlite3_prepare_v2(m->db, "SELECT " COLS " FROM items WHERE id = ?", -1, &m->get, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(m->db, "SELECT " COLS " FROM items WHERE kind = ? AND row = ?", -1, &m->find, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(m->db, "SELECT count(*) FROM items WHERE kind = ?", -1, &m->count, NULL) != SQLITE_OK) {
        st = sql_err(m, "prepare (is this a labelfree index database?)");
        goto fail;
    }
    *out = m;
    return LF_OK;
fail:
    lf_index_meta_close(m);
    return st;
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v) sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(s, i);
}

lf_status lf_index_meta_add(lf_index_meta *m, const lf_index_item *it)
{
    if (!m || !it) return lf_error(LF_ERR_ARG, "lf_index_meta_add: NULL argument");
    if (!m->ins) return lf_error(LF_ERR_STATE, "%s: opened read-only", m->path);
    if (it->kind != LF_ITEM_IMAGE && it->kind != LF_ITEM_MOLECULE)
        return lf_error(LF_ERR_ARG, "lf_index_meta_add: item %lld has kind %d", (long long)it->id, it->kind);
    pthread_mutex_lock(&m->mu);
    sqlite3_reset(m->ins);
    sqlite3_bind_int64(m->ins, 1, it->id);
    sqlite3_bind_text(m->ins, 2, lf_item_kind_name(it->kind), -1, SQLITE_STATIC);
    sqlite3_bind_int64(m->ins, 3, it->row);
    bind_text(m->ins, 4, it->path);
    bind_text(m->ins, 5, it->smiles);
    bind_text(m->ins, 6, it->compound);
    bind_text(m->ins, 7, it->moa);
    bind_text(m->ins, 8, it->label);
    bind_text(m->ins, 9, it->extra);
    lf_status st = LF_OK;
    if (sqlite3_step(m->ins) != SQLITE_DONE)
        st = lf_error(LF_ERR_ARG, "%s: item %lld (%s row %lld): %s", m->path, (long long)it->id,
                      lf_item_kind_name(it->kind), (long long)it->row, sqlite3_errmsg(m->db));
    pthread_mutex_unlock(&m->mu);
    return st;
}

lf_status lf_index_meta_commit(lf_index_meta *m)
{
    if (!m) return lf_error(LF_ERR_ARG, "lf_index_meta_commit: NULL");
    if (!m->in_tx) return LF_OK;
    if (sqlite3_exec(m->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) return sql_err(m, "commit");
    m->in_tx = 0;
    return LF_OK;
}

void lf_index_item_clear(lf_index_item *it)
{
    if (!it) return;
    lf_free(it->path); lf_free(it->smiles); lf_free(it->compound);
    lf_free(it->moa); lf_free(it->label); lf_free(it->extra);
    memset(it, 0, sizeof *it);
}

static char *col(sqlite3_stmt *s, int i)
{
    return sqlite3_column_type(s, i) == SQLITE_NULL ? NULL : lf_strdup((const char *)sqlite3_column_text(s, i));
}

/* steps s (bound, mutex held) and copies the row into it */
static lf_status fetch(lf_index_meta *m, sqlite3_stmt *s, lf_index_item *it, const char *what)
{
    memset(it, 0, sizeof *it);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) return lf_error(LF_ERR_ARG, "no item %s in the index", what);
    if (rc != SQLITE_ROW) return sql_err(m, "select");
    it->id = sqlite3_column_int64(s, 0);
    const char *k = (const char *)sqlite3_column_text(s, 1);
    it->kind = k && !strcmp(k, "molecule") ? LF_ITEM_MOLECULE : LF_ITEM_IMAGE;
    it->row = sqlite3_column_int64(s, 2);
    it->path = col(s, 3); it->smiles = col(s, 4); it->compound = col(s, 5);
    it->moa = col(s, 6); it->label = col(s, 7); it->extra = col(s, 8);
    return LF_OK;
}

lf_status lf_index_meta_get(lf_index_meta *m, int64_t id, lf_index_item *it)
{
    if (!m || !it) return lf_error(LF_ERR_ARG, "lf_index_meta_get: NULL argument");
    char what[48];
    snprintf(what, sizeof what, "with id %lld", (long long)id);
    pthread_mutex_lock(&m->mu);
    sqlite3_reset(m->get);
    sqlite3_bind_int64(m->get, 1, id);
    lf_status st = fetch(m, m->get, it, what);
    sqlite3_reset(m->get);
    pthread_mutex_unlock(&m->mu);
    return st;
}

lf_status lf_index_meta_find(lf_index_meta *m, int kind, int64_t row, lf_index_item *it)
{
    if (!m || !it) return lf_error(LF_ERR_ARG, "lf_index_meta_find: NULL argument");
    char what[64];
    snprintf(what, sizeof what, "%s row %lld", lf_item_kind_name(kind), (long long)row);
    pthread_mutex_lock(&m->mu);
    sqlite3_reset(m->find);
    sqlite3_bind_text(m->find, 1, lf_item_kind_name(kind), -1, SQLITE_STATIC);
    sqlite3_bind_int64(m->find, 2, row);
    lf_status st = fetch(m, m->find, it, what);
    sqlite3_reset(m->find);
    pthread_mutex_unlock(&m->mu);
    return st;
}

int64_t lf_index_meta_count(lf_index_meta *m, int kind)
{
    if (!m) return -1;
    pthread_mutex_lock(&m->mu);
    sqlite3_reset(m->count);
    sqlite3_bind_text(m->count, 1, lf_item_kind_name(kind), -1, SQLITE_STATIC);
    int64_t n = sqlite3_step(m->count) == SQLITE_ROW ? sqlite3_column_int64(m->count, 0) : -1;
    sqlite3_reset(m->count);
    pthread_mutex_unlock(&m->mu);
    return n;
}

lf_status lf_index_meta_row_ids(lf_index_meta *m, int kind, int64_t n, int64_t *ids)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(m->db, "SELECT row, id FROM items WHERE kind = ?", -1, &s, NULL) != SQLITE_OK)
        return sql_err(m, "prepare");
    for (int64_t i = 0; i < n; i++) ids[i] = -1;
    sqlite3_bind_text(s, 1, lf_item_kind_name(kind), -1, SQLITE_STATIC);
    lf_status st = LF_OK;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t r = sqlite3_column_int64(s, 0);
        if (r < 0 || r >= n) {
            st = lf_error(LF_ERR_FORMAT, "%s: %s row %lld outside the %lld stored vectors", m->path,
                          lf_item_kind_name(kind), (long long)r, (long long)n);
            break;
        }
        ids[r] = sqlite3_column_int64(s, 1);
    }
    if (!st && rc != SQLITE_DONE) st = sql_err(m, "select rows");
    sqlite3_finalize(s);
    for (int64_t i = 0; !st && i < n; i++)
        if (ids[i] < 0)
            st = lf_error(LF_ERR_FORMAT, "%s: %s row %lld has no metadata", m->path, lf_item_kind_name(kind), (long long)i);
    return st;
}
