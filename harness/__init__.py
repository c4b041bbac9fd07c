"""Start the project's real processes and reach its services: shared by the end-to-end tests and the benchmark."""
