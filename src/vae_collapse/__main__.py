from vae_collapse.cli import main

main()
