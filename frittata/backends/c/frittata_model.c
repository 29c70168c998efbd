/*
 * The runtime of an exported frittata model: the C API of frittata_model.h over the compiled
 * program's entry point
 *
 *     void frittata_run(void **slots, int32_t tid, int32_t nthreads, int32_t *barrier)
 *
 * slots holds the arena (intermediates), the inputs, the outputs and the parameters, in that
 * order. Every thread of a run calls the entry with its id; the program's own barrier keeps the
 * threads in step between kernels, so a run is one call per thread. The helper threads are
 * started by create (all of them, or create fails) and wait for runs on a condition variable.
 * The tables this file reads (signature, parameter offsets, arena size) are generated per model
 * beside it.
 */
#include "frittata_model.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN 64
/* the largest team (MAX_THREADS of the Python runtime): each thread has its own phase word in
 * the team's state (`barrier`, 16 words plus one per thread) */
#define FRITTATA_MAX_THREADS 256

extern const frittata_tensor_info frittata_inputs_[];
extern const int frittata_num_inputs_;
extern const frittata_tensor_info frittata_outputs_[];
extern const int frittata_num_outputs_;
extern const unsigned char frittata_params_[];
extern const uint64_t frittata_param_offsets_[];
extern const int frittata_num_params_;
extern const uint64_t frittata_arena_bytes_;

/* A kernel that indexes by run-time values writes a status record {failed, value, flat position,
   bound} (int64) into the arena before it touches memory; these name the op and what it indexes. */
typedef struct index_check {
    uint64_t offset;
    const char *op;
    const char *what;
} index_check;
extern const index_check frittata_checks_[];
extern const int frittata_num_checks_;

void frittata_run(void **slots, int32_t tid, int32_t nthreads, int32_t *barrier);

typedef struct worker {
    struct frittata_model *model;
    int32_t tid;
} worker;

struct frittata_model {
    int threads;
    void **slots;
    void *arena;
    void **inputs;
    void **outputs;
    unsigned char *input_set;
    _Alignas(8) int32_t barrier[272]; /* the team's state: arrivals, {phase, work claimed}, work done, sleepers, own phases */
    char error[256];
    /* the helper threads 1 .. threads-1 */
    pthread_t *ids;
    worker *workers;
    int started;
    pthread_mutex_t lock;
    pthread_cond_t wake, done;
    int generation, finished, quit;
};

static char create_error[256];

static int fail(char *buffer, int code, const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(buffer, 256, format, args);
    va_end(args);
    return code;
}

static void *zeroed(size_t nbytes) {
    size_t rounded = (nbytes + ALIGN - 1) / ALIGN * ALIGN;
    void *p = aligned_alloc(ALIGN, rounded ? rounded : ALIGN);
    if (p) memset(p, 0, rounded ? rounded : ALIGN);
    return p;
}

int frittata_model_num_inputs(void) { return frittata_num_inputs_; }
int frittata_model_num_outputs(void) { return frittata_num_outputs_; }

const frittata_tensor_info *frittata_model_input(int index) {
    return index >= 0 && index < frittata_num_inputs_ ? &frittata_inputs_[index] : NULL;
}

const frittata_tensor_info *frittata_model_output(int index) {
    return index >= 0 && index < frittata_num_outputs_ ? &frittata_outputs_[index] : NULL;
}

static void *serve(void *arg) {
    worker *w = arg;
    frittata_model *m = w->model;
    int seen = 0;
    for (;;) {
        pthread_mutex_lock(&m->lock);
        while (m->generation == seen && !m->quit) pthread_cond_wait(&m->wake, &m->lock);
        int quit = m->quit;
        seen = m->generation;
        pthread_mutex_unlock(&m->lock);
        if (quit) return NULL;
        frittata_run(m->slots, w->tid, m->threads, m->barrier);
        pthread_mutex_lock(&m->lock);
        m->finished++;
        pthread_cond_signal(&m->done);
        pthread_mutex_unlock(&m->lock);
    }
}

static void stop_helpers(frittata_model *m) {
    pthread_mutex_lock(&m->lock);
    m->quit = 1;
    pthread_cond_broadcast(&m->wake);
    pthread_mutex_unlock(&m->lock);
    for (int i = 0; i < m->started; i++) pthread_join(m->ids[i], NULL);
    m->started = 0;
}

void frittata_model_free(frittata_model *model) {
    if (!model) return;
    stop_helpers(model);
    pthread_mutex_destroy(&model->lock);
    pthread_cond_destroy(&model->wake);
    pthread_cond_destroy(&model->done);
    if (model->inputs)
        for (int i = 0; i < frittata_num_inputs_; i++) free(model->inputs[i]);
    if (model->outputs)
        for (int i = 0; i < frittata_num_outputs_; i++) free(model->outputs[i]);
    free(model->inputs);
    free(model->outputs);
    free(model->input_set);
    free(model->arena);
    free(model->slots);
    free(model->ids);
    free(model->workers);
    free(model);
}

static int out_of_memory(frittata_model *m) {
    frittata_model_free(m);
    return fail(create_error, FRITTATA_ERROR_MEMORY, "create: out of memory");
}

int frittata_model_create(int threads, frittata_model **out) {
    if (!out) return fail(create_error, FRITTATA_ERROR_ARGUMENT, "create: expected a model pointer, got NULL");
    *out = NULL;
    if (threads < 1 || threads > FRITTATA_MAX_THREADS)
        return fail(create_error, FRITTATA_ERROR_ARGUMENT, "create: expected 1 to %d threads, got %d",
                    FRITTATA_MAX_THREADS, threads);
    frittata_model *m = calloc(1, sizeof *m);
    if (!m) return fail(create_error, FRITTATA_ERROR_MEMORY, "create: out of memory");
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->wake, NULL);
    pthread_cond_init(&m->done, NULL);
    int nslots = 1 + frittata_num_inputs_ + frittata_num_outputs_ + frittata_num_params_;
    m->threads = threads;
    m->slots = calloc((size_t)nslots, sizeof(void *));
    m->arena = zeroed(frittata_arena_bytes_);
    m->inputs = calloc((size_t)frittata_num_inputs_ + 1, sizeof(void *));
    m->outputs = calloc((size_t)frittata_num_outputs_ + 1, sizeof(void *));
    m->input_set = calloc((size_t)frittata_num_inputs_ + 1, 1);
    m->ids = calloc((size_t)threads, sizeof *m->ids);
    m->workers = calloc((size_t)threads, sizeof *m->workers);
    if (!m->slots || !m->arena || !m->inputs || !m->outputs || !m->input_set || !m->ids || !m->workers)
        return out_of_memory(m);
    int slot = 0;
    m->slots[slot++] = m->arena;
    for (int i = 0; i < frittata_num_inputs_; i++)
        if (!(m->slots[slot++] = m->inputs[i] = zeroed(frittata_inputs_[i].nbytes))) return out_of_memory(m);
    for (int i = 0; i < frittata_num_outputs_; i++)
        if (!(m->slots[slot++] = m->outputs[i] = zeroed(frittata_outputs_[i].nbytes))) return out_of_memory(m);
    for (int i = 0; i < frittata_num_params_; i++)
        m->slots[slot++] = (void *)(frittata_params_ + frittata_param_offsets_[i]);
    for (int i = 0; i < threads - 1; i++) {
        m->workers[i] = (worker){m, i + 1};
        if (pthread_create(&m->ids[i], NULL, serve, &m->workers[i]) != 0) {
            frittata_model_free(m);
            return fail(create_error, FRITTATA_ERROR_MEMORY, "create: could start only %d of %d threads", i + 1,
                        threads);
        }
        m->started = i + 1;
    }
    *out = m;
    return FRITTATA_OK;
}

/* The index of the tensor called `name` among `count` infos (inputs or outputs, `kind`), or a
   negative error code with the message set: an unknown name, or a buffer of the wrong size. */
static int lookup(frittata_model *m, const char *where, const char *kind, const frittata_tensor_info *infos,
                  int count, const char *name, const void *data, size_t nbytes) {
    if (!name || !data)
        return -fail(m->error, FRITTATA_ERROR_ARGUMENT, "%s: expected a name and data, got NULL", where);
    for (int i = 0; i < count; i++) {
        if (strcmp(infos[i].name, name) != 0) continue;
        if (nbytes != infos[i].nbytes)
            return -fail(m->error, FRITTATA_ERROR_SIZE, "%s '%s': expected %zu bytes (%s), got %zu", where, name,
                         infos[i].nbytes, infos[i].dtype, nbytes);
        return i;
    }
    char known[160] = "";
    for (int i = 0; i < count; i++) {
        size_t used = strlen(known);
        snprintf(known + used, sizeof known - used, "%s'%s'", i ? ", " : "", infos[i].name);
    }
    return -fail(m->error, FRITTATA_ERROR_NAME, "%s: expected one of the %s %s, got '%s'", where, kind, known, name);
}

int frittata_model_set_input(frittata_model *m, const char *name, const void *data, size_t nbytes) {
    if (!m) return FRITTATA_ERROR_ARGUMENT;
    int i = lookup(m, "set_input", "inputs", frittata_inputs_, frittata_num_inputs_, name, data, nbytes);
    if (i < 0) return -i;
    memcpy(m->inputs[i], data, nbytes);
    m->input_set[i] = 1;
    return FRITTATA_OK;
}

int frittata_model_run(frittata_model *m) {
    if (!m) return FRITTATA_ERROR_ARGUMENT;
    for (int i = 0; i < frittata_num_inputs_; i++)
        if (!m->input_set[i])
            return fail(m->error, FRITTATA_ERROR_STATE, "run: expected every input set, input '%s' is not",
                        frittata_inputs_[i].name);
    pthread_mutex_lock(&m->lock);
    m->finished = 0;
    m->generation++;
    pthread_cond_broadcast(&m->wake);
    pthread_mutex_unlock(&m->lock);
    frittata_run(m->slots, 0, m->threads, m->barrier);
    pthread_mutex_lock(&m->lock);
    while (m->finished < m->started) pthread_cond_wait(&m->done, &m->lock);
    pthread_mutex_unlock(&m->lock);
    for (int i = 0; i < frittata_num_checks_; i++) {
        const int64_t *status = (const int64_t *)((const char *)m->arena + frittata_checks_[i].offset);
        if (status[0])
            return fail(m->error, FRITTATA_ERROR_INDEX,
                        "%s: index %lld at flat position %lld of the indices is outside the valid range "
                        "[%lld, %lld) of %s", frittata_checks_[i].op, (long long)status[1], (long long)status[2],
                        -(long long)status[3], (long long)status[3], frittata_checks_[i].what);
    }
    return FRITTATA_OK;
}

int frittata_model_get_output(frittata_model *m, const char *name, void *data, size_t nbytes) {
    if (!m) return FRITTATA_ERROR_ARGUMENT;
    int i = lookup(m, "get_output", "outputs", frittata_outputs_, frittata_num_outputs_, name, data, nbytes);
    if (i < 0) return -i;
    memcpy(data, m->outputs[i], nbytes);
    return FRITTATA_OK;
}

const char *frittata_model_error(const frittata_model *m) {
    return m ? m->error : create_error;
}
