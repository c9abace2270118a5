from ornament_pipeline.cli import main

main()
