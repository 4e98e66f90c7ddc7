# Convenience aliases; ./dev is the real entry point (it needs only bash and python3).
.PHONY: run test lint bench
run:
	./dev run
test:
	./dev test
lint:
	./dev lint
bench:
	./dev bench
