"""Assemble stage: join a job's encoded chunks, mux the audio, publish completion."""
