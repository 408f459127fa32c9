"""Finetuning: data and splits, prompt masking positions, the classifier head, LoRA, tiny runs end to end."""



from tests.support.app import assert_clean, open_page


def test_finetuning_page():
    at = open_page("finetuning")
    assert_clean(at)
    assert any("1,045 train, 149 validation, 300 test" in m.value for m in at.markdown)
    at.radio(key="finetuning.cls.what").set_value("lora").run()
    assert any("LoRA trains" in c.value for c in at.caption)
    assert_clean(at)
