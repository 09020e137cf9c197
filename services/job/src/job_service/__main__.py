from job_service.bootstrap import main

main()
