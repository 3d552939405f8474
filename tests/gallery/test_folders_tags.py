"""Folders nest one level; tag names are unique per user, ignoring case; deleting either never deletes images."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from gallery import services
from gallery.models import Folder, GeneratedImage, Tag

from ..factories import GeneratedImageFactory


class TestFolderRules:
    def test_a_subfolder_of_a_subfolder_is_refused(self, user):
        top = services.create_folder(owner=user, name="Campaigns")
        sub = services.create_folder(owner=user, name="Summer", parent=top)

        with pytest.raises(ValidationError) as error:
            services.create_folder(owner=user, name="Week 1", parent=sub)
        assert "one level" in str(error.value)

    def test_a_folder_with_subfolders_cannot_become_a_subfolder(self, user):
        top = services.create_folder(owner=user, name="Campaigns")
        services.create_folder(owner=user, name="Summer", parent=top)
        other = services.create_folder(owner=user, name="Archive")

        with pytest.raises(ValidationError):
            services.update_folder(folder=top, parent=other, move=True)

    def test_a_folder_cannot_be_its_own_parent(self, user):
        folder = services.create_folder(owner=user, name="Loop")

        with pytest.raises(ValidationError):
            services.update_folder(folder=folder, parent=folder, move=True)

    def test_the_database_refuses_a_self_parent_too(self, user):
        folder = Folder.objects.create(owner=user, name="Loop")

        with pytest.raises(IntegrityError):
            Folder.objects.filter(pk=folder.pk).update(parent=folder)

    def test_names_are_unique_among_siblings_ignoring_case(self, user, other_user):
        top = services.create_folder(owner=user, name="Shoes")
        services.create_folder(owner=user, name="Sale", parent=top)
        services.create_folder(owner=user, name="Sale")  # another level: fine
        services.create_folder(owner=other_user, name="shoes")  # another user: fine

        with pytest.raises(ValidationError):
            services.create_folder(owner=user, name="SHOES")
        with pytest.raises(ValidationError):
            services.create_folder(owner=user, name="sale", parent=top)

    def test_the_database_refuses_duplicate_root_names(self, user):
        Folder.objects.create(owner=user, name="Shoes")

        with pytest.raises(IntegrityError):
            Folder.objects.create(owner=user, name="shoes")


class TestFolderApi:
    def test_crud(self, api_client):
        created = api_client.post("/api/v1/folders", {"name": " Campaigns "}, format="json")
        assert created.status_code == 201, created.content
        folder = created.json()
        assert folder["name"] == "Campaigns"
        assert folder["parent"] is None

        child = api_client.post("/api/v1/folders", {"name": "Summer", "parent": folder["id"]}, format="json").json()
        assert child["parent"] == folder["id"]
        assert [f["name"] for f in api_client.get("/api/v1/folders").json()["results"]] == ["Campaigns", "Summer"]

        renamed = api_client.patch(f"/api/v1/folders/{child['id']}", {"name": "Summer 26"}, format="json")
        assert renamed.json()["name"] == "Summer 26"
        assert renamed.json()["parent"] == folder["id"]
        moved = api_client.patch(f"/api/v1/folders/{child['id']}", {"parent": None}, format="json")
        assert moved.json()["parent"] is None
        assert api_client.delete(f"/api/v1/folders/{child['id']}").status_code == 204
        assert api_client.get(f"/api/v1/folders/{child['id']}").status_code == 404

    def test_invalid_nesting_and_duplicates_are_400s(self, api_client):
        top = api_client.post("/api/v1/folders", {"name": "A"}, format="json").json()
        sub = api_client.post("/api/v1/folders", {"name": "B", "parent": top["id"]}, format="json").json()

        deep = api_client.post("/api/v1/folders", {"name": "C", "parent": sub["id"]}, format="json")
        duplicate = api_client.post("/api/v1/folders", {"name": "a"}, format="json")
        unknown = api_client.post("/api/v1/folders", {"name": "D", "colour": "red"}, format="json")

        assert deep.status_code == 400
        assert "parent" in deep.json()["error"]["fields"]
        assert duplicate.status_code == 400
        assert unknown.status_code == 400
        assert unknown.json()["error"]["fields"] == {"colour": ["Unknown field."]}

    def test_another_users_parent_is_refused(self, api_client, other_user):
        theirs = Folder.objects.create(owner=other_user, name="Theirs")

        response = api_client.post("/api/v1/folders", {"name": "Mine", "parent": theirs.pk}, format="json")

        assert response.status_code == 400
        assert "parent" in response.json()["error"]["fields"]

    def test_deleting_a_folder_keeps_its_images_and_drops_its_subfolders(self, api_client, user):
        top = Folder.objects.create(owner=user, name="Top")
        sub = Folder.objects.create(owner=user, name="Sub", parent=top)
        in_top, in_sub = GeneratedImageFactory(owner=user, folder=top), GeneratedImageFactory(owner=user, folder=sub)

        assert api_client.delete(f"/api/v1/folders/{top.pk}").status_code == 204

        assert not Folder.objects.filter(owner=user).exists()
        assert set(GeneratedImage.objects.filter(folder__isnull=True).values_list("pk", flat=True)) == {
            in_top.pk,
            in_sub.pk,
        }


class TestTagApi:
    def test_crud(self, api_client, user):
        tag = api_client.post("/api/v1/tags", {"name": "Campaign"}, format="json").json()
        image = GeneratedImageFactory(owner=user)
        image.tags.add(tag["id"])

        assert api_client.patch(f"/api/v1/tags/{tag['id']}", {"name": "Launch"}, format="json").json()["name"] == (
            "Launch"
        )
        assert [t["name"] for t in api_client.get("/api/v1/tags").json()["results"]] == ["Launch"]
        assert api_client.delete(f"/api/v1/tags/{tag['id']}").status_code == 204
        assert GeneratedImage.objects.filter(pk=image.pk).exists()
        assert not Tag.objects.exists()

    def test_names_are_unique_per_user_ignoring_case(self, api_client, other_user):
        Tag.objects.create(owner=other_user, name="campaign")
        assert api_client.post("/api/v1/tags", {"name": "Campaign"}, format="json").status_code == 201

        duplicate = api_client.post("/api/v1/tags", {"name": "CAMPAIGN"}, format="json")

        assert duplicate.status_code == 400
        assert duplicate.json()["error"]["fields"]

    def test_blank_names_are_refused(self, api_client):
        assert api_client.post("/api/v1/tags", {"name": "   "}, format="json").status_code == 400
