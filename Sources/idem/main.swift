import IdemCLI

await IdemCommandLine.main()
