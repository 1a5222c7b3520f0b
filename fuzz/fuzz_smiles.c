/* libFuzzer harness for the SMILES parser and the Morgan code:
 *   bash fuzz/run.sh [seconds]   (clang -fsanitize=fuzzer,address,undefined) */
#include "labelfree.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) return 0;
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = 0;
    lf_mol *m = NULL;
    int pos;
    if (lf_mol_parse(s, &m, &pos) == LF_OK) {
        uint8_t bits[1024];
        uint32_t counts[256];
        lf_morgan_bits(m, 3, 1024, 1, bits); /* chirality: stereo perception too */
        lf_morgan_counts(m, 3, 256, 0, counts);
        lf_mol_free(m);
    } else if (pos < -1 || pos > (int)size) {
        abort(); /* an error position must point into the input */
    }
    free(s);
    return 0;
}
