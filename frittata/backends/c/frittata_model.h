/*
 * The C API of a model exported by frittata (Module.export_library).
 *
 * A shared library holds one compiled model: its native code, its parameters and the tables
 * below. Typical use:
 *
 *     frittata_model *m;
 *     if (frittata_model_create(1, &m) != FRITTATA_OK) { puts(frittata_model_error(NULL)); ... }
 *     frittata_model_set_input(m, "x", x, sizeof x);
 *     frittata_model_run(m);
 *     frittata_model_get_output(m, "y", y, sizeof y);
 *     frittata_model_free(m);
 *
 * Every function returning int returns FRITTATA_OK or an error code; the message of the last
 * error on a model is frittata_model_error(model) (of a failed create: frittata_model_error(NULL)).
 * Tensors are dense, row-major (C order), in the dtype their info names. A model may be run any
 * number of times; one model must not be used by two threads at once (create one per thread).
 */
#ifndef FRITTATA_MODEL_H
#define FRITTATA_MODEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    FRITTATA_OK = 0,
    FRITTATA_ERROR_NAME = 1,     /* no input or output has this name */
    FRITTATA_ERROR_SIZE = 2,     /* the buffer size is not the tensor's size in bytes */
    FRITTATA_ERROR_MEMORY = 3,   /* an allocation or a thread failed */
    FRITTATA_ERROR_STATE = 4,    /* run before every input was set */
    FRITTATA_ERROR_ARGUMENT = 5, /* a NULL pointer or a thread count below 1 */
    FRITTATA_ERROR_INDEX = 6     /* an input index (a token id, say) was out of range: the kernel
                                    skipped its accesses and the outputs of this run are invalid */
};

typedef struct frittata_tensor_info {
    const char *name;
    const char *dtype;     /* "float32", "int8", "uint8", "int32", "int64", "bool" */
    int rank;
    const int64_t *shape;  /* rank sizes */
    size_t nbytes;
} frittata_tensor_info;

typedef struct frittata_model frittata_model;

int frittata_model_num_inputs(void);
int frittata_model_num_outputs(void);
/* The signature; NULL for an index out of range. */
const frittata_tensor_info *frittata_model_input(int index);
const frittata_tensor_info *frittata_model_output(int index);

/* A model that runs on `threads` threads (1 to 256); *model is NULL when it fails. */
int frittata_model_create(int threads, frittata_model **model);
/* Copies nbytes (which must be the input's size) from data. */
int frittata_model_set_input(frittata_model *model, const char *name, const void *data, size_t nbytes);
int frittata_model_run(frittata_model *model);
/* Copies the output of the last run into data (nbytes must be the output's size). */
int frittata_model_get_output(frittata_model *model, const char *name, void *data, size_t nbytes);
const char *frittata_model_error(const frittata_model *model);
void frittata_model_free(frittata_model *model);

#ifdef __cplusplus
}
#endif

#endif
