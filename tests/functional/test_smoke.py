def test_empty_job_list(api):
    response = api.get("/v6/jobs/")
    assert response.status_code == 200, response.body
    assert response.json_body == {"count": 0, "next": None, "previous": None, "results": []}
