"""Entry point Terraform runs (through the wrapper tf-env.sh writes): serve the provider."""

from archive_provider.provider import main

if __name__ == "__main__":
    main()
