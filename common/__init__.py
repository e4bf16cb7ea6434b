"""The base layer under the tasks: params, workspace layout, storage, lock, progress, errors, fingerprints."""
