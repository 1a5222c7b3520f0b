/* JSON of index hits, shared by `index query` and `serve`. */
#ifndef LF_CLI_INDEX_JSON_H
#define LF_CLI_INDEX_JSON_H

#include "labelfree.h"

#include <jansson.h>

/* {"rank", "id", "score", "kind", "path", "smiles", "compound", "moa", "label", "extra"} */
json_t *index_hit_json(lf_index_dir *d, int rank, const lf_index_hit *h);

#endif
