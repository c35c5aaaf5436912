"""PDF input and output: reading and rendering inputs, writing copies, the streamed merged file."""
