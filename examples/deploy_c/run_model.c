/*
 * Runs a model exported by frittata (Module.export_library) from C.
 *
 *     run_model DIR [REPEAT [THREADS]]
 *
 * reads each input from DIR/<input name>.bin (raw, C order, the input's dtype), runs the model
 * REPEAT times (default 1) on THREADS threads (default 1), writes each output to
 * DIR/<output name>.out and prints the median run time in milliseconds. It uses only the API of
 * frittata_model.h and links against the model's library:
 *
 *     cc -O2 -I. run_model.c model.so -Wl,-rpath,'$ORIGIN' -o run_model
 */
#include "frittata_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void *read_file(const char *path, size_t nbytes) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    void *data = malloc(nbytes ? nbytes : 1);
    size_t got = data ? fread(data, 1, nbytes, f) : 0;
    int extra = fgetc(f) != EOF;
    fclose(f);
    if (got != nbytes || extra) {
        fprintf(stderr, "%s: expected %zu bytes\n", path, nbytes);
        free(data);
        return NULL;
    }
    return data;
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR [REPEAT [THREADS]]\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    int repeat = argc > 2 ? atoi(argv[2]) : 1, threads = argc > 3 ? atoi(argv[3]) : 1;
    if (repeat < 1) repeat = 1;
    frittata_model *model;
    if (frittata_model_create(threads, &model) != FRITTATA_OK) {
        fprintf(stderr, "%s\n", frittata_model_error(NULL));
        return 1;
    }
    char path[4096];
    for (int i = 0; i < frittata_model_num_inputs(); i++) {
        const frittata_tensor_info *info = frittata_model_input(i);
        snprintf(path, sizeof path, "%s/%s.bin", dir, info->name);
        void *data = read_file(path, info->nbytes);
        if (!data || frittata_model_set_input(model, info->name, data, info->nbytes) != FRITTATA_OK) {
            fprintf(stderr, "input %s: %s\n", info->name, data ? frittata_model_error(model) : "unreadable");
            return 1;
        }
        free(data);
    }
    double *times = malloc(sizeof(double) * (size_t)repeat);
    for (int r = 0; r < repeat; r++) {
        double start = now_ms();
        if (frittata_model_run(model) != FRITTATA_OK) {
            fprintf(stderr, "%s\n", frittata_model_error(model));
            return 1;
        }
        times[r] = now_ms() - start;
    }
    qsort(times, (size_t)repeat, sizeof(double), by_value);
    for (int i = 0; i < frittata_model_num_outputs(); i++) {
        const frittata_tensor_info *info = frittata_model_output(i);
        void *data = malloc(info->nbytes ? info->nbytes : 1);
        snprintf(path, sizeof path, "%s/%s.out", dir, info->name);
        FILE *f = fopen(path, "wb");
        if (!data || !f || frittata_model_get_output(model, info->name, data, info->nbytes) != FRITTATA_OK ||
            fwrite(data, 1, info->nbytes, f) != info->nbytes) {
            fprintf(stderr, "output %s: %s\n", info->name, frittata_model_error(model));
            return 1;
        }
        fclose(f);
        free(data);
    }
    printf("median %.3f ms over %d runs\n", times[repeat / 2], repeat);
    free(times);
    frittata_model_free(model);
    return 0;
}
